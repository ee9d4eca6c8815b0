"""Settings, read once from `THREADS_API_*` environment variables and `.env`."""

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/threads.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="THREADS_API_", env_file=".env", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    admin_key: SecretStr | None = None
    # Signs pagination cursors. Unset: a random secret kept in the database, shared by every
    # process that uses that database.
    secret_key: SecretStr | None = None
    idempotency_ttl_seconds: int = Field(default=24 * 3600, ge=1)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1)
    # Bound on waiting for the database, so an outage answers 503 instead of hanging.
    database_timeout_seconds: float = Field(default=5.0, gt=0)
    sqlite_busy_timeout_ms: int = Field(default=10_000, ge=0)
    # Serve even when the database could lose acknowledged writes (fsync or
    # synchronous_commit off): a loud warning instead of a refusal to start.
    allow_unsafe_durability: bool = False
    log_level: str = "INFO"

    @field_validator("database_url")
    @classmethod
    def normalise_database_url(cls, url: str) -> str:
        """Accept the plain URLs people copy around and pick the async driver for them."""
        for plain, async_ in (
            ("postgresql://", "postgresql+asyncpg://"),
            ("postgres://", "postgresql+asyncpg://"),
            ("sqlite://", "sqlite+aiosqlite://"),
        ):
            if url.startswith(plain):
                return async_ + url[len(plain) :]
        if not url.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
            raise ValueError("database_url must be a postgresql:// or sqlite:// URL")
        return url

    @field_validator("admin_key")
    @classmethod
    def check_admin_key(cls, key: SecretStr | None) -> SecretStr | None:
        if key is None or key.get_secret_value() == "":
            return None
        value = key.get_secret_value()
        if not 16 <= len(value) <= 256 or not all(33 <= ord(c) <= 126 for c in value):
            raise ValueError("THREADS_API_ADMIN_KEY must be 16-256 printable ASCII characters")
        return key

    @field_validator("secret_key")
    @classmethod
    def check_secret_key(cls, key: SecretStr | None) -> SecretStr | None:
        if key is None or key.get_secret_value() == "":
            return None
        if len(key.get_secret_value()) < 32:
            raise ValueError("THREADS_API_SECRET_KEY must be at least 32 characters")
        return key

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
