"""Domain errors: each one knows its HTTP status and its stable machine-readable `code`.

Services raise these; the web layer (`ticketing.web`) turns any of them into one
`application/problem+json` answer (RFC 9457). Nothing here imports the web framework, so
the rules can be used and tested without it.
"""

from __future__ import annotations

from typing import Any, ClassVar


class AppError(Exception):
    """Base of every error a client may see. Subclasses fix status, code and title."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "BAD_REQUEST"
    title: ClassVar[str] = "Bad request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra
        self.headers: dict[str, str] = {}

    def problem(self) -> dict[str, Any]:
        """The RFC 9457 body; `extra` members sit beside the standard ones."""
        body: dict[str, Any] = {
            "type": f"https://ticketing.dev/problems/{self.code.lower().replace('_', '-')}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        body.update(self.extra)
        return body


class FieldError:
    """One bad input field, named as the client spelled it (camelCase, dotted for nesting)."""

    __slots__ = ("field", "message")

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}

    def __repr__(self) -> str:
        return f"FieldError({self.field!r}, {self.message!r})"


class ValidationFailed(AppError):
    status = 400
    code = "VALIDATION_FAILED"
    title = "The request is not valid"

    def __init__(self, errors: list[FieldError], detail: str | None = None) -> None:
        names = ", ".join(e.field for e in errors) or "the request"
        super().__init__(
            detail or f"Invalid value for {names}", errors=[e.as_dict() for e in errors]
        )
        self.errors = errors

    @classmethod
    def one(cls, field: str, message: str) -> ValidationFailed:
        return cls([FieldError(field, message)])


class Unauthorized(AppError):
    status = 401
    code = "UNAUTHORIZED"
    title = "Authentication required"

    def __init__(self, detail: str = "A valid bearer token is required") -> None:
        super().__init__(detail)
        self.headers["WWW-Authenticate"] = 'Bearer realm="ticketing"'


class Forbidden(AppError):
    status = 403
    code = "FORBIDDEN"
    title = "Not allowed"


class NotFound(AppError):
    status = 404
    code = "NOT_FOUND"
    title = "Not found"

    @classmethod
    def of(cls, kind: str, ident: object) -> NotFound:
        return cls(f"No {kind} with id {ident}")


class Conflict(AppError):
    """A request that is well formed but clashes with the current state."""

    status = 409
    code = "CONFLICT"
    title = "Conflict with the current state"

    def __init__(self, detail: str, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail, **extra)
        if code is not None:
            self.code = code  # type: ignore[misc]


class VersionConflict(AppError):
    status = 412
    code = "VERSION_CONFLICT"
    title = "The resource has changed"

    def __init__(self, current_version: int) -> None:
        super().__init__(
            f"If-Match does not match the current version {current_version}",
            currentVersion=current_version,
        )
        self.headers["ETag"] = f'"{current_version}"'


class RateLimited(AppError):
    status = 429
    code = "RATE_LIMITED"
    title = "Too many requests"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.headers["Retry-After"] = str(retry_after)


class DependencyUnavailable(AppError):
    """PostgreSQL or Redis did not answer; the request changed nothing and may be retried."""

    status = 503
    code = "DEPENDENCY_UNAVAILABLE"
    title = "A dependency is unavailable"

    def __init__(self, dependency: str, retry_after: int = 2, detail: str | None = None) -> None:
        super().__init__(
            detail or f"{dependency} is unavailable; retry shortly", dependency=dependency
        )
        self.dependency = dependency
        self.headers["Retry-After"] = str(retry_after)


class UnsupportedMediaType(AppError):
    status = 415
    code = "UNSUPPORTED_MEDIA_TYPE"
    title = "Unsupported media type"


class BodyTimeout(AppError):
    """The client announced a body and did not send all of it in time (a stalled or slow
    upload would otherwise keep a connection and a request slot for as long as it liked)."""

    status = 408
    code = "REQUEST_TIMEOUT"
    title = "The request body did not arrive in time"

    def __init__(self, seconds: float) -> None:
        super().__init__(f"The request body was not received within {seconds:g} s")
        self.headers["Connection"] = "close"


class ClientGone(Exception):
    """The client closed its connection before it had sent the whole request body."""


class Stopping(AppError):
    """This server process is shutting down; another one (or this one restarted) will answer."""

    status = 503
    code = "SERVICE_STOPPING"
    title = "The server is stopping"

    def __init__(self, retry_after: int = 1) -> None:
        super().__init__("This server is shutting down; reconnect and another will answer")
        self.headers["Retry-After"] = str(retry_after)
