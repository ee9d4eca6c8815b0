from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from threads_api.models.base import Base


class Thread(Base):
    __tablename__ = "threads"
    __table_args__ = (
        # One index per list order, so every page is an index range scan (ADR 0002).
        Index("ix_threads_space_activity", "space_id", "last_message_at", "id"),
        Index("ix_threads_space_created", "space_id", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(30), primary_key=True)
    space_id: Mapped[str] = mapped_column(String(30), ForeignKey("spaces.id"))
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    metadata_: Mapped[dict[str, str]] = mapped_column("metadata")
    # The seq of the newest message: incrementing it is how a message gets its seq.
    message_count: Mapped[int]
    last_message_at: Mapped[datetime]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    archived_at: Mapped[datetime | None]
    # The newest message that is not erased, copied here by every create, edit and erasure
    # so that a page of threads stays one query (no join, no N+1). All NULL when none is left.
    last_message_id: Mapped[str | None] = mapped_column(String(30))
    last_message_seq: Mapped[int | None]
    last_message_author: Mapped[str | None] = mapped_column(String(128))
    # The first 200 characters of its content.
    last_message_preview: Mapped[str | None] = mapped_column(String(200))
    last_message_created_at: Mapped[datetime | None]
