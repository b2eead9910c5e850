"""What the OpenAPI document says of each operation beyond its types: who may call it, what
it refuses, the headers it reads and sends, and a request body that succeeds when sent.

Keyed by the handler's name (also its operationId). `ticketing.web.openapi` puts this into
the document; a test fails for an operation that has no entry here, and sends every example.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ANYONE = (
    "Anyone: no token needed. A token that is sent must be live (401 otherwise); with one, "
    "the caller sees the customer of its own seats."
)
ADMIN = "Admins only (the admin token); a customer gets 403, no token 401."
CUSTOMER = "Customers only (a customer token), acting as themselves; an admin gets 403."
OWNER_OR_ADMIN = (
    "The customer it belongs to, or an admin. Another customer gets the 404 of an unknown "
    "id, so that its existence does not leak."
)
SELF_OR_ADMIN = (
    "The customer itself, or an admin. Another customer gets the 404 of an unknown customer."
)
OWNER = (
    "The customer who holds it (a customer token). Another customer's hold answers as an "
    "unknown one."
)

# Refusals every operation may give, said once in the shared error response.
COMMON = (
    "Every operation may also answer 400 VALIDATION_FAILED (with `errors` naming each bad "
    "field), 401 UNAUTHORIZED (a bad or revoked token), 408 REQUEST_TIMEOUT (a body that did "
    "not arrive in time), 413 PAYLOAD_TOO_LARGE, 415 UNSUPPORTED_MEDIA_TYPE (a body that is "
    "not JSON), 429 RATE_LIMITED and 503 DEPENDENCY_UNAVAILABLE (both with Retry-After)."
)

IDEMPOTENCY_KEY = "Idempotency-Key"
IF_MATCH = "If-Match"
LAST_EVENT_ID = "Last-Event-ID"
ETAG = "ETag"
LOCATION = "Location"
REPLAYED = "Idempotent-Replayed"

EXAMPLE_EVENT = "3f2c8a4e-6b1d-4c55-9a77-0e8d1b2c3d4e"


@dataclass(frozen=True, slots=True)
class Entry:
    who: str
    refuses: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()  # request headers besides Authorization
    sends: tuple[str, ...] = ()  # success response headers besides the rate-limit ones
    example: dict[str, Any] | None = field(default=None)


OPERATIONS: dict[str, Entry] = {
    # events
    "create_event": Entry(
        ADMIN,
        ("400 when sections do not add up to numSeats or a row is named twice",),
        sends=(LOCATION, ETAG),
        example={
            "eventName": "Spring Gala",
            "eventLocation": "Grand Hall",
            "eventDateTimeStamp": "2030-05-01T19:30:00Z",
            "numSeats": 100,
            "maxNumSeats": 6,
            "seatHoldTime": 300,
            "seating": {
                "price": 25,
                "sections": [
                    {"name": "Stalls", "price": 45, "rows": [{"name": "A", "seats": 50}]},
                    {"name": "Circle", "rows": [{"name": "A", "seats": 50}]},
                ],
            },
        },
    ),
    "list_events": Entry(ANYONE, ("400 for a cursor another list gave out",)),
    "get_event": Entry(ANYONE, ("404 NOT_FOUND",), sends=(ETAG,)),
    "patch_event": Entry(
        ADMIN,
        (
            "404 NOT_FOUND",
            "409 SEATS_CANNOT_SHRINK when numSeats would go down",
            "412 VERSION_CONFLICT when If-Match is stale",
        ),
        reads=(IF_MATCH,),
        sends=(ETAG,),
        example={"eventName": "Spring Gala (matinee)", "salesStartAt": None},
    ),
    "delete_event": Entry(
        ADMIN, ("404 NOT_FOUND", "409 EVENT_HAS_HOLDS", "409 EVENT_HAS_RESERVATIONS")
    ),
    # seats
    "list_seats": Entry(ANYONE, ("404 NOT_FOUND", "400 for a cursor another list gave out")),
    "add_seats": Entry(
        ADMIN,
        ("404 NOT_FOUND", "409 CAPACITY_EXCEEDED past 1000 seats", "409 SEAT_EXISTS"),
        example={"count": 10},
    ),
    "get_seat": Entry(ANYONE, ("404 NOT_FOUND",), sends=(ETAG,)),
    "patch_seat": Entry(
        ADMIN,
        (
            "404 NOT_FOUND",
            "409 SEAT_NOT_OPEN",
            "409 SEAT_EXISTS when another seat has that place",
            "412 VERSION_CONFLICT when If-Match is stale",
        ),
        reads=(IF_MATCH,),
        sends=(ETAG,),
        example={"price": 55},
    ),
    "delete_seat": Entry(
        ADMIN, ("404 NOT_FOUND", "409 SEAT_NOT_OPEN", "409 MIN_SEATS", "409 MAX_SEATS")
    ),
    # customers
    "sign_up": Entry(
        "Anyone (limited per address).",
        ("409 EMAIL_TAKEN",),
        sends=(LOCATION, ETAG),
        example={"firstName": "Ada", "lastName": "Lovelace"},
    ),
    "list_customers": Entry(ADMIN, ("400 for a cursor another list gave out",)),
    "get_customer": Entry(SELF_OR_ADMIN, ("404 NOT_FOUND",), sends=(ETAG,)),
    "list_customer_holds": Entry(SELF_OR_ADMIN, ("404 NOT_FOUND",)),
    "patch_customer": Entry(
        SELF_OR_ADMIN,
        ("404 NOT_FOUND", "409 EMAIL_TAKEN", "412 VERSION_CONFLICT when If-Match is stale"),
        reads=(IF_MATCH,),
        sends=(ETAG,),
        example={"lastName": "Byron"},
    ),
    "delete_customer": Entry(SELF_OR_ADMIN, ("404 NOT_FOUND", "409 CUSTOMER_HAS_RESERVATIONS")),
    "mint_token": Entry(ADMIN, ("404 NOT_FOUND",)),
    "sign_out": Entry(CUSTOMER),
    # holds
    "create_hold": Entry(
        CUSTOMER,
        (
            "400 when a seat id is unknown or of another event, or an unknown section",
            "404 NOT_FOUND for an unknown event",
            "409 SEATS_UNAVAILABLE (with unavailableSeatIds) when a seat is taken; nothing held",
            "409 LIMIT_EXCEEDED past maxNumSeats held plus reserved",
            "409 ADDRESS_LIMIT_EXCEEDED when the client's address (IPv6 /64) already holds its "
            "share of the event (5 % by default, at least 2 x maxNumSeats)",
            "409 SALES_CLOSED outside the sales window",
            "409 NOT_ADMITTED when the event has a waiting room that has not admitted you",
            "409 IDEMPOTENCY_KEY_REUSED: the same key with another body; "
            "409 IDEMPOTENCY_IN_PROGRESS while the first request with it runs",
        ),
        reads=(IDEMPOTENCY_KEY,),
        sends=(LOCATION, REPLAYED),
        example={"quantity": 2},
    ),
    "list_event_holds": Entry(ADMIN, ("404 NOT_FOUND",)),
    "get_hold": Entry(OWNER_OR_ADMIN, ("404 NOT_FOUND once expired, released or confirmed",)),
    "extend_hold": Entry(
        OWNER,
        (
            "404 NOT_FOUND once it is gone",
            "409 EXTEND_LIMIT past 3 x seatHoldTime",
            "409 HOLD_CONFIRMING",
        ),
    ),
    "release_hold": Entry(OWNER_OR_ADMIN, ("404 NOT_FOUND", "409 HOLD_CONFIRMING")),
    "confirm_hold": Entry(
        OWNER,
        (
            "409 HOLD_EXPIRED when the hold is gone (also for another customer's hold)",
            "409 HOLD_CONFIRMING while another confirmation of it runs",
            "409 SEATS_UNAVAILABLE, 409 LIMIT_EXCEEDED: nothing reserved",
            "409 IDEMPOTENCY_KEY_REUSED, 409 IDEMPOTENCY_IN_PROGRESS",
        ),
        reads=(IDEMPOTENCY_KEY,),
        sends=(LOCATION, REPLAYED),
    ),
    "change_seat": Entry(
        CUSTOMER + " `customerId` must be the token's own customer (403 otherwise).",
        (
            "403 FORBIDDEN for another customerId",
            "404 NOT_FOUND",
            "409 SEATS_UNAVAILABLE, 409 LIMIT_EXCEEDED, 409 ADDRESS_LIMIT_EXCEEDED, "
            "409 SALES_CLOSED (ON_HOLD)",
            "409 HOLD_EXPIRED (RESERVED without a live hold on the seat)",
        ),
        example={"customerId": "<your customer id>", "status": "ON_HOLD"},
    ),
    # reservations
    "get_reservation": Entry(OWNER_OR_ADMIN, ("404 NOT_FOUND",)),
    "cancel_reservation": Entry(ADMIN, ("404 NOT_FOUND",)),
    "list_reservations": Entry(SELF_OR_ADMIN, ("404 NOT_FOUND",)),
    "list_event_reservations": Entry(ADMIN, ("404 NOT_FOUND",)),
    # live
    "availability": Entry(ANYONE, ("404 NOT_FOUND",)),
    "open_count": Entry(ANYONE, ("404 NOT_FOUND",)),
    "stream": Entry(
        ANYONE + " A few streams at once per address and per customer.",
        (
            "404 NOT_FOUND",
            "429 RATE_LIMITED past the open streams allowed per address or customer",
            "503 STREAMS_FULL when this server serves as many streams as it may",
        ),
        reads=(LAST_EVENT_ID,),
    ),
    "seat_map": Entry(ANYONE, ("404: an HTML page saying there is no such event",)),
    "onsale_page": Entry(ANYONE, ("404: an HTML page saying there is no such event",)),
    # the waiting room
    "join_queue": Entry(
        CUSTOMER,
        (
            "404 NOT_FOUND",
            "409 NO_QUEUE when the event has no waiting room",
            "409 QUEUE_NOT_OPEN before salesStartAt - opensBeforeSeconds (with opensAt)",
            "409 SALES_CLOSED once sales have ended",
        ),
        sends=(LOCATION,),
    ),
    "queue_counts": Entry(ADMIN, ("404 NOT_FOUND",)),
    "get_queue_entry": Entry(OWNER_OR_ADMIN, ("404 NOT_FOUND",)),
    "leave_queue": Entry(
        "The customer whose entry it is. Another customer gets the 404 of an unknown entry.",
        ("404 NOT_FOUND",),
    ),
    # operations
    "audit": Entry(ADMIN, ("404 NOT_FOUND",)),
    "live": Entry("Anyone; never rate limited."),
    "ready": Entry("Anyone; never rate limited.", ("503 naming what failed",)),
    "scrape": Entry(ADMIN + " (No token at all on the metrics port, when one is set.)"),
}
