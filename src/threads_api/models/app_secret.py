from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from threads_api.models.base import Base


class AppSecret(Base):
    """Secrets every server process must share, such as the cursor signing key."""

    __tablename__ = "app_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
