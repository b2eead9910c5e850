"""Who is calling, and the rules of who may do what (API.md, "Who may do what")."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from uuid import UUID

from ticketing.errors import Forbidden, NotFound, Unauthorized


class Role(Enum):
    ANONYMOUS = "anonymous"
    CUSTOMER = "customer"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Caller:
    role: Role
    customer_id: UUID | None = None
    token_hash: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def is_customer(self) -> bool:
        return self.role is Role.CUSTOMER

    def require_admin(self) -> None:
        if self.role is Role.ANONYMOUS:
            raise Unauthorized()
        if self.role is not Role.ADMIN:
            raise Forbidden("Only an admin may do this")

    def require_customer(self) -> UUID:
        """The caller's own customer id; customers act only as themselves."""
        if self.role is Role.ANONYMOUS:
            raise Unauthorized()
        if self.customer_id is None:
            raise Forbidden("This needs a customer token")
        return self.customer_id

    def require_self_or_admin(self, customer_id: UUID, kind: str = "customer") -> None:
        """Admins and the customer itself; anyone else gets 404 so existence does not leak."""
        if self.role is Role.ANONYMOUS:
            raise Unauthorized()
        if self.role is Role.CUSTOMER and self.customer_id != customer_id:
            raise NotFound.of(kind, customer_id)

    def require_owner_or_admin(self, owner: UUID, kind: str, ident: object) -> None:
        """Admins and the owner of a private resource; anyone else gets exactly the 404 an
        unknown `ident` gets, so the answer tells neither the owner nor that it exists."""
        if self.role is Role.ANONYMOUS:
            raise Unauthorized()
        if self.role is Role.CUSTOMER and self.customer_id != owner:
            raise NotFound.of(kind, ident)

    def sees_customer(self, customer_id: UUID | None) -> bool:
        """Whether a seat's holder or owner may be shown to this caller."""
        return customer_id is not None and (self.is_admin or self.customer_id == customer_id)


ANONYMOUS = Caller(Role.ANONYMOUS)
ADMIN = Caller(Role.ADMIN)
