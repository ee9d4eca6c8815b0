from sqlalchemy.orm import Mapped, mapped_column

from threads_api.models.base import Base


class RevocationCounter(Base):
    """One row, bumped in the transaction of every key revocation. Every server process
    polls it to learn of revocations made elsewhere (ADR 0005)."""

    __tablename__ = "revocation_counter"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)  # always 1
    value: Mapped[int]
