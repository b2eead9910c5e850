"""events, seats, customers, reservations

Revision ID: 0001
Revises:
Create Date: 2026-11-24 02:34:43.725297
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("first_name", sa.Text(), nullable=False),
        sa.Column("last_name", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "char_length(first_name) BETWEEN 1 AND 100", name=op.f("ck_customers_first_name_length")
        ),
        sa.CheckConstraint(
            "char_length(last_name) BETWEEN 1 AND 100", name=op.f("ck_customers_last_name_length")
        ),
        sa.CheckConstraint(
            "email IS NULL OR char_length(email) BETWEEN 3 AND 254",
            name=op.f("ck_customers_email_length"),
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_customers_version_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
    )
    op.create_index("ix_customers_created_at_id", "customers", ["created_at", "id"], unique=False)
    op.create_index(
        "uq_customers_lower_email", "customers", [sa.literal_column("lower(email)")], unique=True
    )
    op.create_table(
        "events",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("event_name", sa.Text(), nullable=False),
        sa.Column("event_location", sa.Text(), nullable=False),
        sa.Column("event_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("num_seats", sa.Integer(), nullable=False),
        sa.Column("max_num_seats", sa.Integer(), server_default=sa.text("10"), nullable=False),
        sa.Column("seat_hold_time", sa.Integer(), server_default=sa.text("60"), nullable=False),
        sa.Column("assigned_seating", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "char_length(event_location) BETWEEN 1 AND 200",
            name=op.f("ck_events_event_location_length"),
        ),
        sa.CheckConstraint(
            "char_length(event_name) BETWEEN 1 AND 200", name=op.f("ck_events_event_name_length")
        ),
        sa.CheckConstraint(
            "max_num_seats BETWEEN 1 AND num_seats", name=op.f("ck_events_max_num_seats_range")
        ),
        sa.CheckConstraint("num_seats BETWEEN 10 AND 1000", name=op.f("ck_events_num_seats_range")),
        sa.CheckConstraint(
            "seat_hold_time BETWEEN 10 AND 3600", name=op.f("ck_events_seat_hold_time_range")
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_events_version_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    op.create_index("ix_events_event_at_id", "events", ["event_at", "id"], unique=False)
    op.create_table(
        "reservations",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("customer_id", sa.UUID(), nullable=False),
        sa.Column("hold_id", sa.UUID(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_reservations_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_reservations_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reservations")),
        sa.UniqueConstraint("hold_id", name=op.f("uq_reservations_hold_id")),
    )
    op.create_index(
        "ix_reservations_customer_id_created_at",
        "reservations",
        ["customer_id", "created_at", "id"],
        unique=False,
    )
    op.create_index("ix_reservations_event_id", "reservations", ["event_id"], unique=False)
    op.create_table(
        "seats",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("section", sa.Text(), nullable=True),
        sa.Column("row", sa.Text(), nullable=True),
        sa.Column("seat_number", sa.Integer(), nullable=True),
        sa.Column(
            "price", sa.Numeric(precision=9, scale=2), server_default=sa.text("0"), nullable=False
        ),
        sa.Column("status", sa.Text(), server_default=sa.text("'OPEN'"), nullable=False),
        sa.Column("customer_id", sa.UUID(), nullable=True),
        sa.Column("reservation_id", sa.UUID(), nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(status = 'RESERVED') = (reservation_id IS NOT NULL AND customer_id IS NOT NULL) AND (status = 'OPEN') = (reservation_id IS NULL AND customer_id IS NULL)",
            name=op.f("ck_seats_reserved_has_owner"),
        ),
        sa.CheckConstraint("status IN ('OPEN', 'RESERVED')", name=op.f("ck_seats_status_known")),
        sa.CheckConstraint(
            "(section IS NULL AND row IS NULL AND seat_number IS NULL) OR (section IS NOT NULL AND row IS NOT NULL AND seat_number IS NOT NULL)",
            name=op.f("ck_seats_placement_complete"),
        ),
        sa.CheckConstraint("price >= 0 AND price <= 1000000", name=op.f("ck_seats_price_range")),
        sa.CheckConstraint(
            "row IS NULL OR char_length(row) BETWEEN 1 AND 20", name=op.f("ck_seats_row_length")
        ),
        sa.CheckConstraint(
            "seat_number IS NULL OR seat_number >= 1", name=op.f("ck_seats_seat_number_positive")
        ),
        sa.CheckConstraint(
            "section IS NULL OR char_length(section) BETWEEN 1 AND 50",
            name=op.f("ck_seats_section_length"),
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_seats_version_positive")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_seats_customer_id_customers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_seats_event_id_events"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["reservations.id"],
            name=op.f("fk_seats_reservation_id_reservations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seats")),
        sa.UniqueConstraint("event_id", "position", name="uq_seats_event_id_position"),
        sa.UniqueConstraint("event_id", "section", "row", "seat_number", name="uq_seats_placement"),
    )
    op.create_index(
        "ix_seats_customer_id",
        "seats",
        ["customer_id", "event_id"],
        unique=False,
        postgresql_where=sa.text("customer_id IS NOT NULL"),
    )
    op.create_index(
        "ix_seats_event_id_section_position",
        "seats",
        ["event_id", "section", "position"],
        unique=False,
    )
    op.create_index(
        "ix_seats_event_id_status",
        "seats",
        ["event_id", "position"],
        unique=False,
        postgresql_where=sa.text("status = 'RESERVED'"),
    )
    op.create_index(
        "ix_seats_reservation_id",
        "seats",
        ["reservation_id"],
        unique=False,
        postgresql_where=sa.text("reservation_id IS NOT NULL"),
    )
    op.create_table(
        "reservation_seats",
        sa.Column("reservation_id", sa.UUID(), nullable=False),
        sa.Column("seat_id", sa.UUID(), nullable=False),
        sa.Column("price", sa.Numeric(precision=9, scale=2), nullable=False),
        sa.Column("cancelled", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["reservations.id"],
            name=op.f("fk_reservation_seats_reservation_id_reservations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["seat_id"],
            ["seats.id"],
            name=op.f("fk_reservation_seats_seat_id_seats"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("reservation_id", "seat_id", name=op.f("pk_reservation_seats")),
    )
    op.create_index("ix_reservation_seats_seat_id", "reservation_seats", ["seat_id"], unique=False)
    op.create_index(
        "uq_reservation_seats_live_seat",
        "reservation_seats",
        ["seat_id"],
        unique=True,
        postgresql_where=sa.text("NOT cancelled"),
    )


def downgrade() -> None:
    op.drop_index(
        "uq_reservation_seats_live_seat",
        table_name="reservation_seats",
        postgresql_where=sa.text("NOT cancelled"),
    )
    op.drop_index("ix_reservation_seats_seat_id", table_name="reservation_seats")
    op.drop_table("reservation_seats")
    op.drop_index(
        "ix_seats_reservation_id",
        table_name="seats",
        postgresql_where=sa.text("reservation_id IS NOT NULL"),
    )
    op.drop_index(
        "ix_seats_event_id_status",
        table_name="seats",
        postgresql_where=sa.text("status = 'RESERVED'"),
    )
    op.drop_index("ix_seats_event_id_section_position", table_name="seats")
    op.drop_index(
        "ix_seats_customer_id",
        table_name="seats",
        postgresql_where=sa.text("customer_id IS NOT NULL"),
    )
    op.drop_table("seats")
    op.drop_index("ix_reservations_event_id", table_name="reservations")
    op.drop_index("ix_reservations_customer_id_created_at", table_name="reservations")
    op.drop_table("reservations")
    op.drop_index("ix_events_event_at_id", table_name="events")
    op.drop_table("events")
    op.drop_index("uq_customers_lower_email", table_name="customers")
    op.drop_index("ix_customers_created_at_id", table_name="customers")
    op.drop_table("customers")
