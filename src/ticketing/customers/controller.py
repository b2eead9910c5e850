"""HTTP for customers and sessions: translate requests to CustomerService calls."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from ticketing.auth.caller import Caller
from ticketing.auth.guards import RATE_OPT, admin_only, customer_only, signed_in
from ticketing.auth.tokens import TokenService
from ticketing.customers.schemas import (
    Customer,
    CustomerCreate,
    CustomerList,
    CustomerPatch,
    IssuedToken,
    SignUp,
)
from ticketing.customers.service import CustomerService
from ticketing.holds.schemas import HoldList
from ticketing.web.http import Body, etag, if_match

Limit = Annotated[int, QueryParameter(ge=1, le=200, description="page size")]


class CustomerController(Controller):
    path = "/customers"
    tags = ["customers"]

    @post("/", opt={RATE_OPT: "signup"}, dto=Body[CustomerCreate], return_dto=None, status_code=201)
    async def sign_up(
        self, data: JSONBody[CustomerCreate], customers: NamedDependency[CustomerService]
    ) -> Response[SignUp]:
        """Sign up: the new customer and its first token (shown once)."""
        result = await customers.sign_up(data)
        return Response(
            result,
            status_code=201,
            headers={
                "Location": f"/customers/{result.customer.id}",
                **etag(result.customer.version),
            },
        )

    @get("/", guards=[admin_only])
    async def list_customers(
        self,
        customers: NamedDependency[CustomerService],
        limit: Limit = 50,
        cursor: Annotated[str | None, QueryParameter(max_length=512)] = None,
    ) -> CustomerList:
        """All customers, oldest first (admin)."""
        return await customers.list_customers(limit=limit, cursor=cursor)

    @get("/{customer_id:uuid}", guards=[signed_in])
    async def get_customer(
        self,
        customer_id: FromPath[UUID],
        caller: NamedDependency[Caller],
        customers: NamedDependency[CustomerService],
    ) -> Response[Customer]:
        """One customer with its held and reserved seats (admin, self)."""
        customer = await customers.get(customer_id, caller)
        return Response(customer, headers=etag(customer.version))

    @get("/{customer_id:uuid}/holds", guards=[signed_in], tags=["holds"])
    async def list_customer_holds(
        self,
        customer_id: FromPath[UUID],
        caller: NamedDependency[Caller],
        customers: NamedDependency[CustomerService],
        limit: Limit = 50,
        cursor: Annotated[str | None, QueryParameter(max_length=512)] = None,
    ) -> HoldList:
        """The customer's live holds, each with its id, oldest first (admin, self)."""
        return await customers.holds(customer_id, caller, limit=limit, cursor=cursor)

    @patch("/{customer_id:uuid}", guards=[signed_in], dto=Body[CustomerPatch], return_dto=None)
    async def patch_customer(
        self,
        request: Request[Any, Any, Any],
        customer_id: FromPath[UUID],
        caller: NamedDependency[Caller],
        data: JSONBody[CustomerPatch],
        customers: NamedDependency[CustomerService],
    ) -> Response[Customer]:
        """Change names or email (admin, self). Honours If-Match."""
        customer = await customers.patch(customer_id, caller, data, if_match(request))
        return Response(customer, headers=etag(customer.version))

    @delete("/{customer_id:uuid}", guards=[signed_in], status_code=204)
    async def delete_customer(
        self,
        customer_id: FromPath[UUID],
        caller: NamedDependency[Caller],
        customers: NamedDependency[CustomerService],
    ) -> None:
        """Delete a customer (admin, self); releases its holds; 409 while it has reservations."""
        await customers.delete(customer_id, caller)

    @post("/{customer_id:uuid}/tokens", guards=[admin_only], status_code=201)
    async def mint_token(
        self, customer_id: FromPath[UUID], customers: NamedDependency[CustomerService]
    ) -> IssuedToken:
        """Mint another token for a customer (admin)."""
        return await customers.mint_token(customer_id)


class SessionController(Controller):
    path = "/sessions"
    tags = ["customers"]

    @delete("/current", guards=[customer_only], status_code=204)
    async def sign_out(
        self, caller: NamedDependency[Caller], tokens: NamedDependency[TokenService]
    ) -> None:
        """Revoke the token this request was made with."""
        await tokens.revoke(caller)
