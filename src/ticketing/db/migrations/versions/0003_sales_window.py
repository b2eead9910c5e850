"""events.sales_start_at and sales_end_at: the sales window

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 13:30:00

Holds are taken only from `sales_start_at` (null: at once) until `sales_end_at` (null: the
event's own time), so nothing is sold for an event that has taken place.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("events", sa.Column("sales_start_at", sa.DateTime(timezone=True)))
    op.add_column("events", sa.Column("sales_end_at", sa.DateTime(timezone=True)))
    op.create_check_constraint(
        op.f("ck_events_sales_window_ordered"),
        "events",
        "sales_start_at IS NULL OR sales_start_at < coalesce(sales_end_at, event_at)",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_events_sales_window_ordered"), "events")
    op.drop_column("events", "sales_end_at")
    op.drop_column("events", "sales_start_at")
