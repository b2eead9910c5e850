"""events.waiting_room: the waiting room of API.md v2

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 14:05:00

Null is no waiting room (v1 behaviour). Otherwise `{"enabled", "admitPerMinute",
"admissionSeconds", "opensBeforeSeconds"}` as the API shows it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("events", sa.Column("waiting_room", postgresql.JSONB()))


def downgrade() -> None:
    op.drop_column("events", "waiting_room")
