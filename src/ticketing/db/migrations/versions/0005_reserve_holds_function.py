"""reserve_holds(): several confirmations in one transaction

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 04:10:00

During an onsale many confirmations arrive at once. Each one as its own call of
reserve_hold() is a round trip, a transaction and a commit; together they are one of each.

- `reserve_hold_checked()` is a confirmation that refuses without raising: it checks
  everything (the customer, locked; the event; the limit; the seats still open, locked in id
  order) before it writes anything, so a refusal is one row (`refused`, `detail`) and leaves
  nothing to undo. A unique violation (the hold confirmed already) still raises.
- `reserve_holds()` runs it for each item in turn, in one statement: an item refused is
  answered alone while the others commit, with no subtransaction each (those cost about a
  sixth of a confirmation here). Each later item sees what the earlier ones wrote: two holds
  of one customer in one call are counted together against maxNumSeats. Items come as
  parallel arrays: `p_counts[i]` seats of `p_seats`, in order, belong to item i; each row
  carries its item's index.
- `reserve_hold()` keeps its signature and raising contract (a worker of the release
  before still calls it), now over `reserve_hold_checked()`, so the rules are written once.
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHECKED = """
CREATE OR REPLACE FUNCTION reserve_hold_checked(
    p_reservation uuid, p_event uuid, p_customer uuid, p_hold uuid, p_seats uuid[]
) RETURNS TABLE (
    refused text, detail text,
    created_at timestamptz, id uuid, event_id uuid, "position" integer, section text,
    "row" text, seat_number integer, price numeric, status text, customer_id uuid,
    reservation_id uuid, version integer, assigned_seating boolean
)
LANGUAGE plpgsql VOLATILE AS $fn$
#variable_conflict use_column
DECLARE
    v_max integer;
    v_assigned boolean;
    v_already bigint;
    v_created timestamptz;
    v_open uuid[];
BEGIN
    -- One confirmation at a time per customer, so the limit below is exact.
    PERFORM 1 FROM customers c WHERE c.id = p_customer FOR UPDATE;
    IF NOT FOUND THEN
        refused := 'NO_CUSTOMER';
        RETURN NEXT;
        RETURN;
    END IF;
    SELECT e.max_num_seats, e.assigned_seating INTO v_max, v_assigned
        FROM events e WHERE e.id = p_event;
    IF NOT FOUND THEN
        refused := 'NO_EVENT';
        RETURN NEXT;
        RETURN;
    END IF;
    SELECT count(*) INTO v_already
        FROM seats s WHERE s.customer_id = p_customer AND s.event_id = p_event;
    IF v_already + cardinality(p_seats) > v_max THEN
        refused := 'LIMIT';
        detail := v_max::text;
        RETURN NEXT;
        RETURN;
    END IF;
    -- The arbiter: the seats still OPEN, locked (in one order) until the commit. A seat
    -- another transaction reserved meanwhile is read again once it commits, and left out.
    SELECT coalesce(array_agg(o.id), '{}') INTO v_open FROM (
        SELECT s.id FROM seats s
         WHERE s.id = ANY(p_seats) AND s.event_id = p_event AND s.status = 'OPEN'
         ORDER BY s.id FOR UPDATE
    ) o;
    IF cardinality(v_open) <> cardinality(p_seats) THEN
        refused := 'SEATS_TAKEN';
        detail := array_to_string(
            ARRAY(SELECT unnest(p_seats) EXCEPT SELECT unnest(v_open)), ',');
        RETURN NEXT;
        RETURN;
    END IF;
    INSERT INTO reservations AS r (id, event_id, customer_id, hold_id)
        VALUES (p_reservation, p_event, p_customer, p_hold)
        RETURNING r.created_at INTO v_created;
    -- (A data-modifying WITH runs to its end whether or not the query reads it.)
    RETURN QUERY
        WITH moved AS (
            UPDATE seats s
               SET status = 'RESERVED', customer_id = p_customer,
                   reservation_id = p_reservation, version = s.version + 1,
                   updated_at = now()
             WHERE s.id = ANY(v_open)
            RETURNING s.id, s.event_id, s.position, s.section, s.row, s.seat_number,
                      s.price, s.status, s.customer_id, s.reservation_id, s.version
        ), priced AS (
            INSERT INTO reservation_seats (reservation_id, seat_id, price)
                SELECT p_reservation, m.id, m.price FROM moved m
        )
        SELECT NULL::text, NULL::text, v_created, m.id, m.event_id, m.position, m.section,
               m.row, m.seat_number, m.price, m.status, m.customer_id, m.reservation_id,
               m.version, v_assigned
          FROM moved m ORDER BY m.position;
END
$fn$;
"""

RAISING = """
CREATE OR REPLACE FUNCTION reserve_hold(
    p_reservation uuid, p_event uuid, p_customer uuid, p_hold uuid, p_seats uuid[]
) RETURNS TABLE (
    created_at timestamptz, id uuid, event_id uuid, "position" integer, section text,
    "row" text, seat_number integer, price numeric, status text, customer_id uuid,
    reservation_id uuid, version integer, assigned_seating boolean
)
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT * FROM reserve_hold_checked(p_reservation, p_event, p_customer, p_hold,
                                                p_seats) LOOP
        IF r.refused IS NOT NULL AND r.detail IS NULL THEN
            RAISE EXCEPTION '%', r.refused;
        ELSIF r.refused IS NOT NULL THEN
            RAISE EXCEPTION '%', r.refused USING DETAIL = r.detail;
        END IF;
        created_at := r.created_at; id := r.id; event_id := r.event_id;
        "position" := r.position; section := r.section; "row" := r.row;
        seat_number := r.seat_number; price := r.price; status := r.status;
        customer_id := r.customer_id; reservation_id := r.reservation_id;
        version := r.version; assigned_seating := r.assigned_seating;
        RETURN NEXT;
    END LOOP;
END
$fn$;
"""

BATCH = """
CREATE OR REPLACE FUNCTION reserve_holds(
    p_reservations uuid[], p_events uuid[], p_customers uuid[], p_holds uuid[],
    p_seats uuid[], p_counts integer[]
) RETURNS TABLE (
    item integer, refused text, detail text,
    created_at timestamptz, id uuid, event_id uuid, "position" integer, section text,
    "row" text, seat_number integer, price numeric, status text, customer_id uuid,
    reservation_id uuid, version integer, assigned_seating boolean
)
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    v_first integer := 1;
BEGIN
    IF cardinality(p_counts) <> cardinality(p_holds)
       OR (SELECT coalesce(sum(c), 0) FROM unnest(p_counts) c) <> cardinality(p_seats) THEN
        RAISE EXCEPTION 'reserve_holds: the items and their seats do not match';
    END IF;
    FOR i IN 1 .. cardinality(p_holds) LOOP
        RETURN QUERY
            SELECT i, r.*
              FROM reserve_hold_checked(p_reservations[i], p_events[i], p_customers[i],
                                        p_holds[i], p_seats[v_first:v_first + p_counts[i] - 1]) r;
        v_first := v_first + p_counts[i];
    END LOOP;
END
$fn$;
"""


def upgrade() -> None:
    op.execute(CHECKED)
    op.execute(RAISING)
    op.execute(BATCH)


def downgrade() -> None:
    op.execute(
        "DROP FUNCTION IF EXISTS reserve_holds(uuid[], uuid[], uuid[], uuid[], uuid[], integer[])"
    )
    # reserve_hold() as migration 0002 made it
    spec = importlib.util.spec_from_file_location(
        "reserve_hold_0002", Path(__file__).with_name("0002_reserve_hold_function.py")
    )
    assert spec is not None
    assert spec.loader is not None
    before = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(before)
    op.execute(before.FUNCTION)
    op.execute("DROP FUNCTION IF EXISTS reserve_hold_checked(uuid, uuid, uuid, uuid, uuid[])")
