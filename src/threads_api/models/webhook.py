from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from threads_api.models.base import Base


class Webhook(Base):
    """An endpoint that is sent the events it asks for (contract §15)."""

    __tablename__ = "webhooks"

    id: Mapped[str] = mapped_column(String(30), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    # NULL: every space (and every type).
    space_ids: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    types: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    description: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    # Events created from here on are delivered: creation or the last re-enabling (no backfill).
    enabled_at: Mapped[datetime]
    # The first failure since the last success; three days of failures disable the endpoint.
    failing_since: Mapped[datetime | None]
    # The signing secrets, encrypted (webhook/secrets.py): never stored in the clear.
    secrets: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class WebhookCursor(Base):
    """Per space: every event up to `position` has been turned into webhook jobs."""

    __tablename__ = "webhook_cursors"

    space_id: Mapped[str] = mapped_column(String(30), ForeignKey("spaces.id"), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger)


class WebhookJob(Base):
    """A delivery still to be made: one event to one webhook. Holds no copy of the event (an
    erasure scrubs the event log only); gone once delivered or given up."""

    __tablename__ = "webhook_jobs"
    __table_args__ = (
        UniqueConstraint("webhook_id", "space_id", "position"),
        Index("ix_webhook_jobs_due", "webhook_id", "next_attempt_at"),
        # The event purge keeps what is still to be delivered.
        Index("ix_webhook_jobs_event", "space_id", "position"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    webhook_id: Mapped[str] = mapped_column(
        String(30), ForeignKey("webhooks.id", ondelete="CASCADE")
    )
    space_id: Mapped[str] = mapped_column(String(30))
    position: Mapped[int] = mapped_column(BigInteger)
    event_id: Mapped[str] = mapped_column(String(30))
    attempts: Mapped[int] = mapped_column(Integer)  # made so far
    next_attempt_at: Mapped[datetime]
    # A process sending it holds it until then; a crashed one's lease runs out.
    lease_until: Mapped[datetime | None]


class WebhookDelivery(Base):
    """One attempt, as the deliveries log shows it. Ids and outcome only: no content."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_webhook", "webhook_id", "id"),)

    id: Mapped[str] = mapped_column(String(30), primary_key=True)
    webhook_id: Mapped[str] = mapped_column(
        String(30), ForeignKey("webhooks.id", ondelete="CASCADE")
    )
    event_id: Mapped[str] = mapped_column(String(30))
    # Where the event is in the log, to send it again (a manual retry).
    space_id: Mapped[str] = mapped_column(String(30))
    position: Mapped[int] = mapped_column(BigInteger)
    attempt: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    next_retry_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
