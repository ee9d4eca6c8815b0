"""Event log: events, per-space counters and purge watermarks, stream tokens (ADR 0009).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_TRIGGER = """
CREATE TRIGGER events_count_position AFTER INSERT ON events
BEGIN
    UPDATE event_counters SET last_position = NEW.position WHERE space_id = NEW.space_id;
    INSERT OR IGNORE INTO event_counters (space_id, last_position, purged_through)
    VALUES (NEW.space_id, NEW.position, 0);
END
"""


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("space_id", sa.String(length=30), nullable=False),
        sa.Column("position", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("id", sa.String(length=30), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("thread_id", sa.String(length=30), nullable=False),
        sa.Column("message_id", sa.String(length=30), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("space_id", "position", name=op.f("pk_events")),
    )
    op.create_index("ix_events_thread_position", "events", ["thread_id", "position"])
    op.create_index(
        "ix_events_message_id",
        "events",
        ["message_id"],
        sqlite_where=sa.text("message_id IS NOT NULL"),
        postgresql_where=sa.text("message_id IS NOT NULL"),
    )
    op.create_index(
        "ix_events_thread_changes",
        "events",
        ["thread_id"],
        sqlite_where=sa.text("message_id IS NULL"),
        postgresql_where=sa.text("message_id IS NULL"),
    )
    op.create_table(
        "event_counters",
        sa.Column("space_id", sa.String(length=30), nullable=False),
        sa.Column("last_position", sa.BigInteger(), nullable=False),
        sa.Column("purged_through", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["space_id"], ["spaces.id"], name=op.f("fk_event_counters_space_id_spaces")
        ),
        sa.PrimaryKeyConstraint("space_id", name=op.f("pk_event_counters")),
    )
    if op.get_bind().dialect.name == "sqlite":
        # SQLite takes a position in the event's own INSERT (event/repository.py); this moves
        # the space's counter on, in the same statement, without another trip to the driver.
        op.execute(_SQLITE_TRIGGER)
    op.create_table(
        "stream_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("api_key_id", sa.String(length=30), nullable=False),
        sa.Column("space_id", sa.String(length=30), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["api_key_id"], ["api_keys.id"], name=op.f("fk_stream_tokens_api_key_id_api_keys")
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_stream_tokens")),
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER events_count_position")
    op.drop_table("stream_tokens")
    op.drop_table("event_counters")
    op.drop_index("ix_events_thread_changes", table_name="events")
    op.drop_index("ix_events_message_id", table_name="events")
    op.drop_index("ix_events_thread_position", table_name="events")
    op.drop_table("events")
