from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from threads_api.models.base import Base


class Event(Base):
    """One change in a space, written in the transaction that made it (ADR 0009)."""

    __tablename__ = "events"
    __table_args__ = (
        # Filtered by thread: every list and stream with `thread_id`.
        Index("ix_events_thread_position", "thread_id", "position"),
        # Erasure finds the events that hold a message's content (ADR 0007): its own events,
        # and the thread's events, whose data can hold its preview or a title made from it.
        # Partial indexes: each event is in exactly one of the two.
        Index(
            "ix_events_message_id",
            "message_id",
            sqlite_where="message_id IS NOT NULL",
            postgresql_where="message_id IS NOT NULL",
        ),
        Index(
            "ix_events_thread_changes",
            "thread_id",
            sqlite_where="message_id IS NULL",
            postgresql_where="message_id IS NULL",
        ),
    )

    # The primary key is the order of the feed: a space's events by position.
    space_id: Mapped[str] = mapped_column(String(30), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    id: Mapped[str] = mapped_column(String(30))
    type: Mapped[str] = mapped_column(String(32))
    thread_id: Mapped[str] = mapped_column(String(30))
    # The message of a message.* event; NULL for thread.* events.
    message_id: Mapped[str | None] = mapped_column(String(30))
    created_at: Mapped[datetime]
    # The object after the change, as JSON text: sent as it is, never re-encoded.
    data: Mapped[str] = mapped_column(Text)


class EventCounter(Base):
    """Per space: the last position handed out, and the purge watermark. Taking the next
    position locks this row until the transaction ends, so positions commit in order."""

    __tablename__ = "event_counters"

    space_id: Mapped[str] = mapped_column(String(30), ForeignKey("spaces.id"), primary_key=True)
    last_position: Mapped[int] = mapped_column(BigInteger)
    # Every event up to here may have been purged: `after` below it is a 410.
    purged_through: Mapped[int] = mapped_column(BigInteger)


class StreamToken(Base):
    """A short-lived, single-use token that opens one event stream (for EventSource)."""

    __tablename__ = "stream_tokens"

    # SHA-256 of the token; the token itself is never stored.
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    api_key_id: Mapped[str] = mapped_column(String(30), ForeignKey("api_keys.id"))
    space_id: Mapped[str] = mapped_column(String(30))
    expires_at: Mapped[datetime]
