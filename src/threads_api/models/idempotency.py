from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from threads_api.models.base import Base


class IdempotencyRecord(Base):
    """The stored outcome of a request sent with an `Idempotency-Key` (ADR 0003)."""

    __tablename__ = "idempotency_records"
    __table_args__ = (
        Index("ix_idempotency_records_expires_at", "expires_at"),
        # Finds the record that stored a message, to rewrite it when the message is edited or
        # erased: it was written in the same transaction as the message (ADR 0007).
        Index("ix_idempotency_records_created_at", "created_at"),
    )

    api_key_id: Mapped[str] = mapped_column(String(30), ForeignKey("api_keys.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    # SHA-256 of method, path and canonical JSON body.
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int]
    response_body: Mapped[bytes] = mapped_column(LargeBinary)
    location: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
