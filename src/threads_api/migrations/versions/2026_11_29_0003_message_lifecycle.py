"""Message lifecycle: versions, edits, erasure, and the thread's last message (ADR 0007).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Existing threads: the newest message has seq = message_count (seqs are dense and nothing
# was erasable before this revision), found through the (thread_id, seq) unique index.
_LAST = "(SELECT {expression} FROM messages m WHERE m.thread_id = threads.id AND m.seq = threads.message_count)"


def upgrade() -> None:
    # Plain ADD COLUMNs (no table copy on SQLite); `version` is filled, then made NOT NULL.
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE messages SET version = 1")
    with op.batch_alter_table("messages") as batch:
        batch.alter_column("version", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("content", existing_type=sa.Text(), nullable=True)

    with op.batch_alter_table("threads") as batch:
        batch.add_column(sa.Column("last_message_id", sa.String(length=30), nullable=True))
        batch.add_column(sa.Column("last_message_seq", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("last_message_author", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("last_message_preview", sa.String(length=200), nullable=True))
        batch.add_column(
            sa.Column("last_message_created_at", sa.DateTime(timezone=True), nullable=True)
        )
    op.execute(
        "UPDATE threads SET "
        f"last_message_id = {_LAST.format(expression='m.id')}, "
        f"last_message_seq = {_LAST.format(expression='m.seq')}, "
        f"last_message_author = {_LAST.format(expression='m.author')}, "
        f"last_message_preview = {_LAST.format(expression='substr(m.content, 1, 200)')}, "
        f"last_message_created_at = {_LAST.format(expression='m.created_at')}"
    )

    op.create_table(
        "message_versions",
        sa.Column("message_id", sa.String(length=30), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_message_versions_message_id_messages")
        ),
        sa.PrimaryKeyConstraint("message_id", "version", name=op.f("pk_message_versions")),
    )
    op.create_index(
        "ix_idempotency_records_created_at", "idempotency_records", ["created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_idempotency_records_created_at", table_name="idempotency_records")
    op.drop_table("message_versions")
    with op.batch_alter_table("threads") as batch:
        for column in ("id", "seq", "author", "preview", "created_at"):
            batch.drop_column(f"last_message_{column}")
    # Erased messages have no content to restore: they come back as empty strings.
    op.execute("UPDATE messages SET content = '' WHERE content IS NULL")
    with op.batch_alter_table("messages") as batch:
        batch.alter_column("content", existing_type=sa.Text(), nullable=False)
        batch.drop_column("deleted_at")
        batch.drop_column("edited_at")
        batch.drop_column("version")
