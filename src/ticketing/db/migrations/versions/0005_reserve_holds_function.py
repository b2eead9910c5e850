"""reserve_holds(): several confirmations in one transaction

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 04:10:00

During an onsale many confirmations arrive at once. Each one as its own call of
reserve_hold() is a round trip, a transaction and a commit; together they are one of each.
reserve_holds() runs reserve_hold() for each item in turn, each in a subtransaction of its
own (a PL/pgSQL block with an exception handler), so an item refused (no customer, no
event, the limit, a seat taken) is undone alone and answered as such while the others
commit. Each later item sees what the earlier ones wrote: two holds of one customer in one
call are counted together against maxNumSeats.

Items come as parallel arrays: `p_counts[i]` seats of `p_seats`, in order, belong to item i.
Each item's rows are returned with its index; a refused item returns one row with `refused`
(the reason reserve_hold raised, or UNIQUE for a unique violation) and `detail`.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTION = """
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
    v_detail text;
BEGIN
    IF cardinality(p_counts) <> cardinality(p_holds)
       OR (SELECT coalesce(sum(c), 0) FROM unnest(p_counts) c) <> cardinality(p_seats) THEN
        RAISE EXCEPTION 'reserve_holds: the items and their seats do not match';
    END IF;
    FOR i IN 1 .. cardinality(p_holds) LOOP
        BEGIN
            -- (reserve_hold builds its whole answer before it returns, so an item it
            -- refuses has added no row here)
            RETURN QUERY
                SELECT i, NULL::text, NULL::text, r.*
                  FROM reserve_hold(p_reservations[i], p_events[i], p_customers[i],
                                    p_holds[i], p_seats[v_first:v_first + p_counts[i] - 1]) r;
        EXCEPTION
            WHEN raise_exception THEN
                GET STACKED DIAGNOSTICS v_detail = PG_EXCEPTION_DETAIL;
                RETURN QUERY SELECT i, SQLERRM, v_detail, NULL::timestamptz, NULL::uuid,
                    NULL::uuid, NULL::integer, NULL::text, NULL::text, NULL::integer,
                    NULL::numeric, NULL::text, NULL::uuid, NULL::uuid, NULL::integer,
                    NULL::boolean;
            WHEN unique_violation THEN
                RETURN QUERY SELECT i, 'UNIQUE'::text, NULL::text, NULL::timestamptz,
                    NULL::uuid, NULL::uuid, NULL::integer, NULL::text, NULL::text,
                    NULL::integer, NULL::numeric, NULL::text, NULL::uuid, NULL::uuid,
                    NULL::integer, NULL::boolean;
        END;
        v_first := v_first + p_counts[i];
    END LOOP;
END
$fn$;
"""


def upgrade() -> None:
    op.execute(FUNCTION)


def downgrade() -> None:
    op.execute(
        "DROP FUNCTION IF EXISTS reserve_holds(uuid[], uuid[], uuid[], uuid[], uuid[], integer[])"
    )
