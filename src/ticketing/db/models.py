"""The PostgreSQL schema, as SQLAlchemy Core tables.

This is the schema's single description in Python: Alembic migrations are written against
it and a test checks that the migrated database matches it. The service itself talks to
PostgreSQL through asyncpg with SQL in the repositories; these tables are not an ORM.

The database enforces what it can by itself: text lengths and number ranges, the unique
(event, section, row, seat number) of assigned seats, at most one live reservation per seat,
and every foreign key.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _timestamps() -> list[Column[object]]:
    return [
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    ]


events = Table(
    "events",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("event_name", Text, nullable=False),
    Column("event_location", Text, nullable=False),
    Column("event_at", DateTime(timezone=True), nullable=False),
    Column("num_seats", Integer, nullable=False),
    Column("max_num_seats", Integer, nullable=False, server_default=text("10")),
    Column("seat_hold_time", Integer, nullable=False, server_default=text("60")),
    Column("assigned_seating", Boolean, nullable=False, server_default=text("true")),
    Column("version", Integer, nullable=False, server_default=text("1")),
    *_timestamps(),
    # The sales window: holds from sales_start_at (null: at once) to sales_end_at (null: the
    # event's own time).
    Column("sales_start_at", DateTime(timezone=True)),
    Column("sales_end_at", DateTime(timezone=True)),
    # The waiting room: null for none, else {enabled, admitPerMinute, admissionSeconds,
    # opensBeforeSeconds} as the API shows it.
    Column("waiting_room", JSONB),
    CheckConstraint(
        "sales_start_at IS NULL OR sales_start_at < coalesce(sales_end_at, event_at)",
        name="sales_window_ordered",
    ),
    CheckConstraint("char_length(event_name) BETWEEN 1 AND 200", name="event_name_length"),
    CheckConstraint("char_length(event_location) BETWEEN 1 AND 200", name="event_location_length"),
    CheckConstraint("num_seats BETWEEN 10 AND 1000", name="num_seats_range"),
    CheckConstraint("max_num_seats BETWEEN 1 AND num_seats", name="max_num_seats_range"),
    CheckConstraint("seat_hold_time BETWEEN 10 AND 3600", name="seat_hold_time_range"),
    CheckConstraint("version >= 1", name="version_positive"),
    # GET /events orders by event time; from/to filter on it.
    Index("ix_events_event_at_id", "event_at", "id"),
)

customers = Table(
    "customers",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("first_name", Text, nullable=False),
    Column("last_name", Text, nullable=False),
    Column("email", Text, nullable=True),
    Column("version", Integer, nullable=False, server_default=text("1")),
    *_timestamps(),
    CheckConstraint("char_length(first_name) BETWEEN 1 AND 100", name="first_name_length"),
    CheckConstraint("char_length(last_name) BETWEEN 1 AND 100", name="last_name_length"),
    CheckConstraint("email IS NULL OR char_length(email) BETWEEN 3 AND 254", name="email_length"),
    CheckConstraint("version >= 1", name="version_positive"),
    # Emails are unique whatever their case.
    Index("uq_customers_lower_email", func.lower(text("email")), unique=True),
    # GET /customers orders by creation.
    Index("ix_customers_created_at_id", "created_at", "id"),
)

reservations = Table(
    "reservations",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column(
        "event_id", UUID(as_uuid=True), ForeignKey("events.id", ondelete="CASCADE"), nullable=False
    ),
    Column(
        "customer_id",
        UUID(as_uuid=True),
        ForeignKey("customers.id", ondelete="CASCADE"),
        nullable=False,
    ),
    # The hold a reservation confirmed: one hold is confirmed at most once.
    Column("hold_id", UUID(as_uuid=True), nullable=True, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("cancelled_at", DateTime(timezone=True), nullable=True),
    Index("ix_reservations_customer_id_created_at", "customer_id", "created_at", "id"),
    Index("ix_reservations_event_id", "event_id"),
)

seats = Table(
    "seats",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column(
        "event_id", UUID(as_uuid=True), ForeignKey("events.id", ondelete="CASCADE"), nullable=False
    ),
    # Front-to-back order within the event: lists and best-available seat picking use it.
    Column("position", Integer, nullable=False),
    Column("section", Text, nullable=True),
    Column("row", Text, nullable=True),
    Column("seat_number", Integer, nullable=True),
    Column("price", Numeric(9, 2), nullable=False, server_default=text("0")),
    # The durable state only: OPEN or RESERVED. Holds live in Redis and are laid over it.
    Column("status", Text, nullable=False, server_default=text("'OPEN'")),
    Column(
        "customer_id",
        UUID(as_uuid=True),
        ForeignKey("customers.id", ondelete="RESTRICT"),
        nullable=True,
    ),
    Column(
        "reservation_id",
        UUID(as_uuid=True),
        ForeignKey("reservations.id", ondelete="RESTRICT"),
        nullable=True,
    ),
    Column("version", Integer, nullable=False, server_default=text("1")),
    *_timestamps(),
    CheckConstraint("price >= 0 AND price <= 1000000", name="price_range"),
    CheckConstraint("status IN ('OPEN', 'RESERVED')", name="status_known"),
    CheckConstraint(
        "(status = 'RESERVED') = (reservation_id IS NOT NULL AND customer_id IS NOT NULL)"
        " AND (status = 'OPEN') = (reservation_id IS NULL AND customer_id IS NULL)",
        name="reserved_has_owner",
    ),
    CheckConstraint(
        "(section IS NULL AND row IS NULL AND seat_number IS NULL)"
        " OR (section IS NOT NULL AND row IS NOT NULL AND seat_number IS NOT NULL)",
        name="placement_complete",
    ),
    CheckConstraint("seat_number IS NULL OR seat_number >= 1", name="seat_number_positive"),
    CheckConstraint(
        "section IS NULL OR char_length(section) BETWEEN 1 AND 50", name="section_length"
    ),
    CheckConstraint("row IS NULL OR char_length(row) BETWEEN 1 AND 20", name="row_length"),
    CheckConstraint("version >= 1", name="version_positive"),
    UniqueConstraint("event_id", "section", "row", "seat_number", name="uq_seats_placement"),
    UniqueConstraint("event_id", "position", name="uq_seats_event_id_position"),
    Index("ix_seats_event_id_section_position", "event_id", "section", "position"),
    Index(
        "ix_seats_customer_id",
        "customer_id",
        "event_id",
        postgresql_where=text("customer_id IS NOT NULL"),
    ),
    Index(
        "ix_seats_reservation_id",
        "reservation_id",
        postgresql_where=text("reservation_id IS NOT NULL"),
    ),
    Index(
        "ix_seats_event_id_status",
        "event_id",
        "position",
        postgresql_where=text("status = 'RESERVED'"),
    ),
)

# Every seat a reservation ever confirmed, kept after cancellation as the record of sales.
# The partial unique index is the last line of defence against selling a seat twice: two
# live reservations of one seat cannot both be committed, whatever the application does.
reservation_seats = Table(
    "reservation_seats",
    metadata,
    Column(
        "reservation_id",
        UUID(as_uuid=True),
        ForeignKey("reservations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "seat_id",
        UUID(as_uuid=True),
        ForeignKey("seats.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("price", Numeric(9, 2), nullable=False),
    Column("cancelled", Boolean, nullable=False, server_default=text("false")),
    # Deleting a seat cascades here, cancelled history included.
    Index("ix_reservation_seats_seat_id", "seat_id"),
    Index(
        "uq_reservation_seats_live_seat",
        "seat_id",
        unique=True,
        postgresql_where=text("NOT cancelled"),
    ),
)
