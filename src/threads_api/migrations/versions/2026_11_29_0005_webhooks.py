"""Webhooks: endpoints, the dispatcher's per-space cursors, pending jobs, the deliveries log.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "webhooks",
        sa.Column("id", sa.String(length=30), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("space_ids", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("types", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("enabled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("secrets", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhooks")),
    )
    op.create_table(
        "webhook_cursors",
        sa.Column("space_id", sa.String(length=30), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["space_id"], ["spaces.id"], name=op.f("fk_webhook_cursors_space_id_spaces")
        ),
        sa.PrimaryKeyConstraint("space_id", name=op.f("pk_webhook_cursors")),
    )
    # What exists now is never delivered: the dispatcher starts at each space's last event.
    op.execute(
        "INSERT INTO webhook_cursors (space_id, position) "
        "SELECT space_id, last_position FROM event_counters"
    )
    op.create_table(
        "webhook_jobs",
        sa.Column("id", _BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("webhook_id", sa.String(length=30), nullable=False),
        sa.Column("space_id", sa.String(length=30), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.String(length=30), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhooks.id"],
            name=op.f("fk_webhook_jobs_webhook_id_webhooks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_jobs")),
        sa.UniqueConstraint(
            "webhook_id",
            "space_id",
            "position",
            name=op.f("uq_webhook_jobs_webhook_id_space_id_position"),
        ),
    )
    op.create_index("ix_webhook_jobs_due", "webhook_jobs", ["webhook_id", "next_attempt_at"])
    op.create_index("ix_webhook_jobs_event", "webhook_jobs", ["space_id", "position"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.String(length=30), nullable=False),
        sa.Column("webhook_id", sa.String(length=30), nullable=False),
        sa.Column("event_id", sa.String(length=30), nullable=False),
        sa.Column("space_id", sa.String(length=30), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("next_retry_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhooks.id"],
            name=op.f("fk_webhook_deliveries_webhook_id_webhooks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index("ix_webhook_deliveries_webhook", "webhook_deliveries", ["webhook_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_webhook", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_index("ix_webhook_jobs_event", table_name="webhook_jobs")
    op.drop_index("ix_webhook_jobs_due", table_name="webhook_jobs")
    op.drop_table("webhook_jobs")
    op.drop_table("webhook_cursors")
    op.drop_table("webhooks")
