"""Settings, read once from `THREADS_API_*` environment variables and `.env`."""

import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

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
    # Connections (threads_api.server): a connection that has not sent complete request
    # headers within this many seconds is closed.
    header_timeout_seconds: float = Field(default=10.0, gt=0)
    # Open connections per server process; the next one is answered 503 server_busy. Lowered
    # at start-up to fit `ulimit -n`. 1,000 (gunicorn's worker_connections) is far more than
    # one event loop serves at a time, and far fewer than the 20,000 descriptors of a usual
    # ulimit, so the process keeps descriptors for its database, its log and for refusing.
    max_connections: int = Field(default=1000, ge=1)
    # Bound on waiting for the database, so an outage answers 503 instead of hanging.
    database_timeout_seconds: float = Field(default=5.0, gt=0)
    sqlite_busy_timeout_ms: int = Field(default=10_000, ge=0)
    # Serve even when the database could lose acknowledged writes (fsync or
    # synchronous_commit off): a loud warning instead of a refusal to start.
    allow_unsafe_durability: bool = False
    log_level: str = "INFO"
    # How often each process polls for keys revoked by other processes (ADR 0005). Above
    # 75 ms the key cache serves only for 75 ms after each poll; keys are read from the
    # database the rest of the time, and revocation still applies within 100 ms.
    revocation_poll_ms: int = Field(default=30, ge=1)
    # The change feed (contract §14, ADR 0009). Events older than this are purged.
    event_retention_days: float = Field(default=7, gt=0)
    # Open event streams and long-polls per API key, in each server process.
    max_streams_per_key: int = Field(default=20, ge=1)
    # A comment line this often keeps proxies from closing an idle stream.
    stream_heartbeat_seconds: float = Field(default=15, gt=0)
    # A stream ends (with `stream.reset`) after this long: 24 h.
    stream_max_seconds: float = Field(default=24 * 3600, gt=0)
    # Bytes of events one subscriber may have waiting; past it the subscriber is too slow
    # and its stream ends with `stream.reset`, so that it never holds up anyone else.
    stream_buffer_bytes: int = Field(default=1024 * 1024, ge=1024)
    # SQLite: while anyone streams, how often to look for writes made by other processes.
    sqlite_change_poll_ms: int = Field(default=75, ge=1)
    # Webhooks (contract §15). Deliveries to loopback, private, link-local and other
    # non-public addresses are refused unless this is set (a receiver on this machine, say).
    webhooks_allow_private: bool = False
    # An attempt that has not had a 2xx within this long has failed.
    webhook_timeout_seconds: float = Field(default=10, gt=0, le=60)
    # Attempts in flight per server process, in all and per endpoint: a slow or dead
    # endpoint holds at most its own share, never the others'.
    webhook_concurrency: int = Field(default=32, ge=1)
    webhook_concurrency_per_endpoint: int = Field(default=4, ge=1)
    # Browser origins allowed to call the API (CORS), comma-separated; empty: CORS is off.
    cors_origins: Annotated[list[str], NoDecode] = []
    # Where clients reach the service, e.g. https://api.example.com behind a proxy: `Location`
    # and `Link` are built under it. Unset: they are relative URLs. Never from request headers.
    public_url: str | None = None

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
                url = async_ + url[len(plain) :]
                break
        if not url.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
            raise ValueError("must be a postgresql:// or sqlite:// URL")
        try:
            port = make_url(url).port
        except (ValueError, ArgumentError):
            # Not the parser's words: they can quote a piece of the URL, such as its password.
            raise ValueError("is not a valid URL (is the port a number?)") from None
        if port is not None and not 0 < port < 65536:
            raise ValueError("has a port outside 1-65535")
        return url

    @field_validator("cors_origins", mode="before")
    @classmethod
    def split_cors_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def check_cors_origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if origin != "*" and not re.fullmatch(r"https?://[^/?#\s]+", origin):
                raise ValueError(
                    f"CORS origins are '*' or scheme://host[:port] without a path: {origin[:100]!r}"
                )
        return origins

    @field_validator("public_url")
    @classmethod
    def check_public_url(cls, url: str | None) -> str | None:
        if url is None or not url.strip():
            return None
        problem = ValueError(
            "must be an http:// or https:// URL with a host, an optional port and path, and no "
            "query, fragment or credentials"
        )
        if not re.fullmatch(r"[\x21-\x7e]+", url) or "?" in url or "#" in url:
            raise problem  # whitespace or control characters would end up in headers
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError:
            raise problem from None
        if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
            raise problem
        return url.rstrip("/")

    @field_validator("admin_key")
    @classmethod
    def check_admin_key(cls, key: SecretStr | None) -> SecretStr | None:
        if key is None or key.get_secret_value() == "":
            return None
        value = key.get_secret_value()
        if not 16 <= len(value) <= 256 or not all(33 <= ord(c) <= 126 for c in value):
            raise ValueError("must be 16-256 printable ASCII characters")
        return key

    @field_validator("secret_key")
    @classmethod
    def check_secret_key(cls, key: SecretStr | None) -> SecretStr | None:
        if key is None or key.get_secret_value() == "":
            return None
        if len(key.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters")
        return key

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
