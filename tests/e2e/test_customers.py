"""Customers, tokens and sessions over HTTP."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import (
    ADMIN,
    bearer,
    make_customer,
    make_event,
    problem,
    reserve_directly,
    seats_of,
)

Client = AsyncTestClient[Any]


async def test_sign_up_returns_customer_and_token_once(client: Client) -> None:
    email = f"fan-{secrets.token_hex(4)}@example.com"
    response = await client.post(
        "/customers", json={"firstName": "Ada", "lastName": "L", "email": email}
    )
    assert response.status_code == 201
    body = response.json()
    assert response.headers["location"] == f"/customers/{body['customer']['id']}"
    assert body["customer"]["email"] == email
    assert body["customer"]["version"] == 1
    assert body["token"].startswith("tkt_")
    assert len(body["token"]) >= 40  # 256 random bits, base64url
    me = await client.get(f"/customers/{body['customer']['id']}", headers=bearer(body["token"]))
    assert me.status_code == 200
    assert me.json()["seatsOnHold"] == []
    assert me.json()["seatsReserved"] == []
    assert "token" not in me.json()


async def test_tokens_are_stored_only_as_hashes(client: Client, stack: Any) -> None:
    customer = await make_customer(client)
    import socket

    with socket.create_connection(("127.0.0.1", stack.valkey.port)) as s:
        s.sendall(b"*2\r\n$4\r\nKEYS\r\n$1\r\n*\r\n")
        keys = s.recv(1 << 20)
    assert customer.token.encode() not in keys
    assert customer.token[4:].encode() not in keys


async def test_email_is_unique_whatever_its_case(client: Client) -> None:
    email = f"dup-{secrets.token_hex(4)}@example.com"
    await make_customer(client, email=email)
    response = await client.post(
        "/customers", json={"firstName": "B", "lastName": "B", "email": email.upper()}
    )
    problem(response, 409, "EMAIL_TAKEN")


@pytest.mark.parametrize(
    ("field", "value", "ok"),
    [
        ("firstName", "", False),
        ("firstName", "a" * 100, True),
        ("firstName", "a" * 101, False),
        ("lastName", "", False),
        ("lastName", "b" * 101, False),
        ("email", "not-an-email", False),
        ("email", "a@b", False),
        ("email", None, True),
    ],
)
async def test_customer_field_bounds(client: Client, field: str, value: Any, ok: bool) -> None:
    body: dict[str, Any] = {"firstName": "A", "lastName": "B", field: value}
    response = await client.post("/customers", json=body)
    if ok:
        assert response.status_code == 201, response.text
    else:
        assert problem(response, 400, "VALIDATION_FAILED")["errors"][0]["field"] == field


async def test_customer_reads_only_itself(client: Client) -> None:
    a = await make_customer(client)
    b = await make_customer(client)
    problem(await client.get(f"/customers/{a.id}", headers=b.headers), 404, "NOT_FOUND")
    assert (await client.get(f"/customers/{a.id}", headers=ADMIN)).status_code == 200
    problem(await client.get(f"/customers/{a.id}"), 401, "UNAUTHORIZED")


async def test_seats_reserved_are_listed_for_the_customer(client: Client, pg: Any) -> None:
    customer = await make_customer(client)
    event = await make_event(client)
    seats = await seats_of(client, event["id"])
    await reserve_directly(pg, customer.id, [seats[0]["id"], seats[1]["id"]])
    me = (await client.get(f"/customers/{customer.id}", headers=customer.headers)).json()
    assert [s["id"] for s in me["seatsReserved"]] == [seats[0]["id"], seats[1]["id"]]
    assert all(
        s["status"] == "RESERVED" and s["customerId"] == customer.id for s in me["seatsReserved"]
    )


async def test_patch_self_with_if_match(client: Client) -> None:
    customer = await make_customer(client)
    response = await client.patch(
        f"/customers/{customer.id}",
        json={"firstName": "New", "email": f"n-{secrets.token_hex(3)}@example.com"},
        headers={**customer.headers, "If-Match": '"1"'},
    )
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'
    stale = await client.patch(
        f"/customers/{customer.id}",
        json={"firstName": "Old"},
        headers={**customer.headers, "If-Match": '"1"'},
    )
    problem(stale, 412, "VERSION_CONFLICT")


async def test_email_can_be_removed(client: Client) -> None:
    customer = await make_customer(client, email=f"r-{secrets.token_hex(3)}@example.com")
    response = await client.patch(
        f"/customers/{customer.id}", json={"email": None}, headers=customer.headers
    )
    assert response.json()["email"] is None


async def test_patch_to_taken_email_is_409(client: Client) -> None:
    email = f"t-{secrets.token_hex(3)}@example.com"
    await make_customer(client, email=email)
    other = await make_customer(client)
    response = await client.patch(
        f"/customers/{other.id}", json={"email": email}, headers=other.headers
    )
    problem(response, 409, "EMAIL_TAKEN")


async def test_admin_lists_customers_in_pages(client: Client) -> None:
    for _ in range(3):
        await make_customer(client)
    first = (await client.get("/customers", params={"limit": 2}, headers=ADMIN)).json()
    assert len(first["items"]) == 2
    second = (
        await client.get(
            "/customers", params={"limit": 2, "cursor": first["nextCursor"]}, headers=ADMIN
        )
    ).json()
    assert {c["id"] for c in first["items"]}.isdisjoint({c["id"] for c in second["items"]})


async def test_delete_self_revokes_every_token(client: Client) -> None:
    customer = await make_customer(client)
    minted = (await client.post(f"/customers/{customer.id}/tokens", headers=ADMIN)).json()["token"]
    assert (
        await client.delete(f"/customers/{customer.id}", headers=customer.headers)
    ).status_code == 204
    problem(await client.get(f"/customers/{customer.id}", headers=ADMIN), 404, "NOT_FOUND")
    for token in (customer.token, minted):
        problem(
            await client.get(f"/customers/{customer.id}", headers=bearer(token)),
            401,
            "UNAUTHORIZED",
        )


async def test_customer_with_reservations_cannot_be_deleted(client: Client, pg: Any) -> None:
    customer = await make_customer(client)
    event = await make_event(client)
    seat = (await seats_of(client, event["id"]))[0]
    await reserve_directly(pg, customer.id, [seat["id"]])
    problem(
        await client.delete(f"/customers/{customer.id}", headers=ADMIN),
        409,
        "CUSTOMER_HAS_RESERVATIONS",
    )
    assert (
        await client.get(f"/customers/{customer.id}", headers=customer.headers)
    ).status_code == 200


async def test_admin_mints_tokens_that_work(client: Client) -> None:
    customer = await make_customer(client)
    response = await client.post(f"/customers/{customer.id}/tokens", headers=ADMIN)
    assert response.status_code == 201
    minted = response.json()
    assert minted["customerId"] == customer.id
    assert minted["expiresInSeconds"] == 86400
    assert minted["token"] != customer.token
    assert (
        await client.get(f"/customers/{customer.id}", headers=bearer(minted["token"]))
    ).status_code == 200


async def test_minting_for_unknown_customer_is_404(client: Client) -> None:
    response = await client.post(
        "/customers/00000000-0000-4000-8000-000000000000/tokens", headers=ADMIN
    )
    problem(response, 404, "NOT_FOUND")


async def test_sign_out_revokes_only_this_token(client: Client) -> None:
    customer = await make_customer(client)
    second = (await client.post(f"/customers/{customer.id}/tokens", headers=ADMIN)).json()["token"]
    assert (await client.delete("/sessions/current", headers=customer.headers)).status_code == 204
    problem(
        await client.get(f"/customers/{customer.id}", headers=customer.headers), 401, "UNAUTHORIZED"
    )
    assert (
        await client.get(f"/customers/{customer.id}", headers=bearer(second))
    ).status_code == 200


async def test_token_expiry_slides_with_use(client: Client, stack: Any) -> None:
    import hashlib
    import socket

    customer = await make_customer(client)
    key = f"tok:{hashlib.sha256(customer.token.encode()).hexdigest()}".encode()

    def ttl() -> int:
        with socket.create_connection(("127.0.0.1", stack.valkey.port)) as s:
            s.sendall(b"*2\r\n$3\r\nTTL\r\n$%d\r\n%s\r\n" % (len(key), key))
            return int(s.recv(64)[1:].strip())

    def expire(seconds: int) -> None:
        with socket.create_connection(("127.0.0.1", stack.valkey.port)) as s:
            s.sendall(
                b"*3\r\n$6\r\nEXPIRE\r\n$%d\r\n%s\r\n$%d\r\n%d\r\n"
                % (len(key), key, len(str(seconds)), seconds)
            )
            s.recv(64)

    expire(100)
    assert ttl() <= 100
    assert (
        await client.get(f"/customers/{customer.id}", headers=customer.headers)
    ).status_code == 200
    assert ttl() > 86000


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer tkt_doesnotexist", "Basic abc", "Bearer " + "x" * 600, "tkt_abc"],
)
async def test_bad_tokens_are_401(client: Client, header: str) -> None:
    response = await client.get("/events", headers={"Authorization": header})
    problem(response, 401, "UNAUTHORIZED")
    assert response.headers["www-authenticate"].startswith("Bearer")
