from datetime import datetime

from sqlalchemy import Column, ForeignKey, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from threads_api.models.base import Base

api_key_spaces = Table(
    "api_key_spaces",
    Base.metadata,
    Column("api_key_id", String(30), ForeignKey("api_keys.id"), primary_key=True),
    Column("space_id", String(30), ForeignKey("spaces.id"), primary_key=True, index=True),
)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(30), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # SHA-256 of the secret, hex; the secret itself is never stored.
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[list[str]]
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
