"""reserve_hold(): a confirmation in one statement

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 11:35:00

A confirmation was nine round trips to PostgreSQL (begin, lock the customer, read the event,
count, insert, update, insert, commit, read the seats back). As one function call it is one,
with the same steps in the same order: each statement of a PL/pgSQL function sees what was
committed before it (READ COMMITTED), so the count after the customer's lock is exact.
Failures raise with a code the service maps to its answer, and undo everything.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTION = """
CREATE OR REPLACE FUNCTION reserve_hold(
    p_reservation uuid, p_event uuid, p_customer uuid, p_hold uuid, p_seats uuid[]
) RETURNS TABLE (
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
    v_moved uuid[];
BEGIN
    -- One confirmation at a time per customer, so the limit below is exact.
    PERFORM 1 FROM customers c WHERE c.id = p_customer FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'NO_CUSTOMER';
    END IF;
    SELECT e.max_num_seats, e.assigned_seating INTO v_max, v_assigned
        FROM events e WHERE e.id = p_event;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'NO_EVENT';
    END IF;
    SELECT count(*) INTO v_already
        FROM seats s WHERE s.customer_id = p_customer AND s.event_id = p_event;
    IF v_already + cardinality(p_seats) > v_max THEN
        RAISE EXCEPTION 'LIMIT' USING DETAIL = v_max::text;
    END IF;
    INSERT INTO reservations AS r (id, event_id, customer_id, hold_id)
        VALUES (p_reservation, p_event, p_customer, p_hold)
        RETURNING r.created_at INTO v_created;
    -- The arbiter: only seats still OPEN move; anything less undoes the whole call.
    WITH moved AS (
        UPDATE seats s
           SET status = 'RESERVED', customer_id = p_customer, reservation_id = p_reservation,
               version = s.version + 1, updated_at = now()
         WHERE s.id = ANY(p_seats) AND s.event_id = p_event AND s.status = 'OPEN'
        RETURNING s.id
    )
    SELECT coalesce(array_agg(m.id), '{}') INTO v_moved FROM moved m;
    IF cardinality(v_moved) <> cardinality(p_seats) THEN
        RAISE EXCEPTION 'SEATS_TAKEN' USING DETAIL = array_to_string(
            ARRAY(SELECT unnest(p_seats) EXCEPT SELECT unnest(v_moved)), ',');
    END IF;
    INSERT INTO reservation_seats (reservation_id, seat_id, price)
        SELECT p_reservation, s.id, s.price FROM seats s WHERE s.id = ANY(p_seats);
    RETURN QUERY
        SELECT v_created, s.id, s.event_id, s.position, s.section, s.row, s.seat_number,
               s.price, s.status, s.customer_id, s.reservation_id, s.version, v_assigned
          FROM seats s WHERE s.id = ANY(p_seats) ORDER BY s.position;
END
$fn$;
"""


def upgrade() -> None:
    op.execute(FUNCTION)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS reserve_hold(uuid, uuid, uuid, uuid, uuid[])")
