"""Secrets shared by every process on one database, kept in it (the `app_secrets` table)."""

import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from threads_api.config import Settings
from threads_api.db import Database
from threads_api.kit.crypto import SecretBox
from threads_api.kit.cursor import CursorCodec
from threads_api.models import AppSecret

CURSOR_SECRET_NAME = "cursor_signing_key"
WEBHOOK_SECRETS_KEY_NAME = "webhook_secrets_key"


async def _shared_secret(db: Database, name: str) -> str:
    """The secret stored under `name`, created on first use; racing processes agree on one."""
    for _ in range(2):
        async with db.writer() as session:
            value = await session.scalar(select(AppSecret.value).where(AppSecret.name == name))
            if value is not None:
                return value
            value = secrets.token_hex(32)
            session.add(AppSecret(name=name, value=value))
            try:
                await session.commit()
            except IntegrityError:
                continue  # another process stored one first: read theirs
            return value
    raise RuntimeError(f"could not store or read the shared secret {name!r}")


async def load_cursor_codec(db: Database, settings: Settings) -> CursorCodec:
    if settings.secret_key is not None:
        return CursorCodec(settings.secret_key.get_secret_value().encode())
    return CursorCodec(bytes.fromhex(await _shared_secret(db, CURSOR_SECRET_NAME)))


async def load_webhook_secrets_box(db: Database, settings: Settings) -> SecretBox:
    """What seals webhook signing secrets: THREADS_API_SECRET_KEY when set (then a copy of
    the database alone cannot open them), else a key kept in the database itself."""
    if settings.secret_key is not None:
        material = settings.secret_key.get_secret_value().encode()
    else:
        material = bytes.fromhex(await _shared_secret(db, WEBHOOK_SECRETS_KEY_NAME))
    return SecretBox(material, purpose="webhook signing secrets")
