"""Request decoding that names every bad field, and the shared request/response base.

msgspec stops at the first error in a document. Clients fixing a form want all of them,
so a body is first split into its top-level members (as raw JSON) and each member is
decoded against its own field type; the errors are collected, with unknown and missing
fields, into one `ValidationFailed`. Only a body with no errors is decoded as a whole,
which also runs the structs' `__post_init__` checks.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import Annotated, Any, TypeVar, cast, get_args, get_origin

import msgspec
from msgspec import Meta

from ticketing.errors import FieldError, ValidationFailed

T = TypeVar("T")
R = TypeVar("R")


class Schema(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    """Base of every request and response body: camelCase on the wire, unknown fields refused."""


class Check:
    """A rule msgspec cannot state, attached with `Annotated[T, Check(fn)]`.

    `fn` returns an error message or None. `decode_body` runs it on top-level fields;
    nested structs call the same function from `__post_init__`.
    """

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[Any], str | None]) -> None:
        self.fn = fn


def check_money(value: Decimal) -> str | None:
    if not value.is_finite() or value < 0 or value > 1_000_000:
        return "Must be between 0 and 1000000"
    if value != value.quantize(Decimal("0.01")):
        return "Must have at most two decimals"
    return None


Money = Annotated[Decimal, Check(check_money)]

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


def check_instant(value: datetime) -> str | None:
    """Instants the service can store and show in UTC: 9999-12-31T23:59:59-23:59 is in year
    10000 once converted, which neither PostgreSQL's driver nor a `Z` timestamp can carry."""
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        return "Must be between 1900-01-01T00:00:00Z and 9999-12-31T23:59:59Z"
    if not EARLIEST <= utc <= LATEST:
        return "Must be between 1900-01-01T00:00:00Z and 9999-12-31T23:59:59Z"
    return None


Instant = Annotated[datetime, Meta(tz=True), Check(check_instant)]


def instant(ms: int) -> datetime:
    """An instant the hold engine keeps in milliseconds since the epoch, in UTC."""
    return datetime.fromtimestamp(ms / 1000, UTC)


def iso(moment: datetime) -> str:
    """An instant as every body shows it (ISO 8601 in UTC with `Z`), for use in messages."""
    return msgspec.json.encode(moment.astimezone(UTC)).decode().strip('"')


# Names and labels: printable text with something to see. Tabs and line breaks would break
# the hold engine's packed seat records and every log line, and no seat label needs them; a
# name of spaces names nothing. (No look-ahead: clients and test generators read it too.)
PRINTABLE = r"^[^\x00-\x1f\x7f]*[^\x00-\x20\x7f][^\x00-\x1f\x7f]*$"
EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s.]+$"

# What a field that fails a pattern is told, instead of the pattern itself.
_PATTERN_MESSAGES = {
    PRINTABLE: "Must be printable text with at least one character that is not a space",
    EMAIL: "Must be an email address such as ada@example.com",
}


_AT = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)


def _field_path(top: str, sub: str) -> str:
    # msgspec paths look like `.sections[0].rows[1].seats` or `[2]`; we report them dotted.
    sub = sub.lstrip(".")
    if not sub:
        return top
    return f"{top}{sub}" if sub.startswith("[") else f"{top}.{sub}"


_NESTED = re.compile(r"^(?P<field>[a-zA-Z]+): (?P<message>.+)$", re.DOTALL)


def _message(raw: str) -> tuple[str, str]:
    """(message, path) of a msgspec error; a nested struct's check names its own field."""
    match = _AT.match(raw)
    assert match is not None
    message, path = match.group("message"), match.group("path") or ""
    if message.startswith("Expected `str` matching regex "):
        pattern = message.removeprefix("Expected `str` matching regex ").strip("'")
        message = _PATTERN_MESSAGES.get(
            pattern.replace("\\\\", "\\"), "Does not have the expected form"
        )
    if nested := _NESTED.match(message):
        return nested.group("message"), f"{path}.{nested.group('field')}"
    return message, path


@cache
def _fields(struct_type: type[msgspec.Struct]) -> dict[str, tuple[Any, bool]]:
    return {f.encode_name: (f.type, f.required) for f in msgspec.structs.fields(struct_type)}


@cache
def _checks(type_: Any) -> tuple[Check, ...]:
    found: list[Check] = []
    for arg in (type_, *get_args(type_)):
        if get_origin(arg) is Annotated:
            found.extend(m for m in get_args(arg)[1:] if isinstance(m, Check))
    return tuple(found)


@cache
def _decoder(type_: Any) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(type_)


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, msgspec.Struct):
        return any(_has_nul(getattr(value, f)) for f in value.__struct_fields__)
    return False


TOO_DEEP = "Nested too deeply"


def decode_body(body: bytes, struct_type: type[T]) -> T:
    """Decode a JSON body into `struct_type`, or raise ValidationFailed naming each bad field."""
    if not body.strip():
        raise ValidationFailed.one("body", "A JSON object is required")
    try:
        members = _decoder(dict[str, msgspec.Raw]).decode(body)
    except msgspec.DecodeError as exc:
        message, _ = _message(str(exc))
        if "Expected `object`" in message:
            message = "The body must be a JSON object"
        raise ValidationFailed.one("body", message) from None
    except RecursionError:
        raise ValidationFailed.one("body", TOO_DEEP) from None
    fields = _fields(struct_type)  # type: ignore[arg-type]
    errors: list[FieldError] = []
    nul = b"\\u0000" in body
    for name, raw in members.items():
        if name not in fields:
            errors.append(FieldError(name, "Unknown field"))
            continue
        type_ = fields[name][0]
        try:
            value = _decoder(type_).decode(raw)
        except msgspec.DecodeError as exc:  # a ValidationError, or text that is not UTF-8
            message, path = _message(str(exc))
            errors.append(FieldError(_field_path(name, path), message))
            continue
        except RecursionError:
            errors.append(FieldError(name, TOO_DEEP))
            continue
        if nul and _has_nul(value):
            # PostgreSQL text cannot hold U+0000; no name, label or email needs one.
            errors.append(FieldError(name, "Must not contain the NUL character (U+0000)"))
            continue
        if value is not None:
            for check in _checks(type_):
                if (problem := check.fn(value)) is not None:
                    errors.append(FieldError(name, problem))
    for name, (_, required) in fields.items():
        if required and name not in members:
            errors.append(FieldError(name, "Required field is missing"))
    if errors:
        raise ValidationFailed(errors)
    try:
        decoded: T = _decoder(cast(Hashable, struct_type)).decode(body)
        return decoded
    except msgspec.ValidationError as exc:
        # Checks across fields, from a struct's __post_init__.
        message, path = _message(str(exc))
        raise ValidationFailed.one(path.lstrip(".") or "body", message) from None


# Cursors are signed with a key every worker and host derives from the same secret (the
# admin token, `use_cursor_secret`), and each names the list it continues: a client can
# neither forge one nor carry one from one list (or filter, or event) to another.
_cursor_key = bytearray(secrets.token_bytes(32))  # filled in place: workers import it once
_MAC_BYTES = 12
NOT_A_CURSOR = "Not a cursor this list gave out"


def use_cursor_secret(secret: str) -> None:
    _cursor_key[:] = hashlib.sha256(b"ticketing cursor\0" + secret.encode()).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(scope: str, payload: bytes) -> bytes:
    return hmac.digest(bytes(_cursor_key), scope.encode() + b"\0" + payload, "sha256")[:_MAC_BYTES]


def encode_cursor(scope: str, values: list[Any]) -> str:
    payload = msgspec.json.encode(values)
    return f"{_b64(payload)}.{_b64(_mac(scope, payload))}"


def page(
    records: list[R], limit: int, key: Callable[[R], list[Any]], scope: str
) -> tuple[list[R], str | None]:
    """Cut a list fetched with `limit + 1` rows to one page and the cursor of the next.

    `scope` names the list and its filters; only the same list takes the cursor back."""
    if len(records) <= limit:
        return records, None
    kept = records[:limit]
    return kept, encode_cursor(scope, key(kept[-1]))


def decode_cursor(cursor: str, types: type[T], scope: str) -> T:
    """The values behind a cursor this list (`scope`) gave out, or a 400."""
    try:
        payload_text, _, mac_text = cursor.partition(".")
        payload = _unb64(payload_text)
        if not hmac.compare_digest(_unb64(mac_text), _mac(scope, payload)):
            raise ValueError("cursor of another list")
        values: T = msgspec.json.decode(payload, type=types)
        return values
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise ValidationFailed.one("cursor", NOT_A_CURSOR) from None


def scope_of(*parts: object) -> str:
    """A list's name and filters as one cursor scope (None and absent filters alike)."""
    return "\x1f".join("" if p is None else str(p) for p in parts)


def changed(patch: msgspec.Struct) -> dict[str, object]:
    """The fields a PATCH body set, by Python name."""
    return {
        f: getattr(patch, f)
        for f in patch.__struct_fields__
        if getattr(patch, f) is not msgspec.UNSET
    }
