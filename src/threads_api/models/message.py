from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from threads_api.models.base import Base


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        # The backstop for dense seqs, and the index every message list reads.
        UniqueConstraint("thread_id", "seq"),
    )

    id: Mapped[str] = mapped_column(String(30), primary_key=True)
    space_id: Mapped[str] = mapped_column(String(30), ForeignKey("spaces.id"))
    thread_id: Mapped[str] = mapped_column(String(30), ForeignKey("threads.id"))
    seq: Mapped[int]
    author: Mapped[str | None] = mapped_column(String(128))
    # NULL once erased: a tombstone keeps its place (seq) but none of its content.
    content: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict[str, str]] = mapped_column("metadata")
    created_at: Mapped[datetime]
    # 1 on create, +1 per edit; earlier versions are rows of message_versions.
    version: Mapped[int]
    edited_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
