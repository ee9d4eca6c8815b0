from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from threads_api.models.base import Base


class MessageVersion(Base):
    """An earlier version of an edited message, kept until the message is erased."""

    __tablename__ = "message_versions"

    # The primary key is also the index the history reads, newest version first.
    message_id: Mapped[str] = mapped_column(String(30), ForeignKey("messages.id"), primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    content: Mapped[str] = mapped_column(Text)
    metadata_: Mapped[dict[str, str]] = mapped_column("metadata")
    # When this version was written: the message's created_at, or the edit that made it.
    created_at: Mapped[datetime]
