"""Bring the schema up to date with Alembic, safely from several processes at once."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text

from threads_api.config import Settings
from threads_api.db import Database

MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant: PostgreSQL advisory lock that serialises concurrent `migrate` runs.
_MIGRATION_LOCK_ID = 7_402_113


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _upgrade(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def migrate(settings: Settings) -> None:
    database = Database(settings, migrating=True)
    try:
        # The writer: on SQLite its BEGIN IMMEDIATE holds off other writers meanwhile.
        async with database.write_engine.begin() as connection:
            if database.dialect == "postgresql":
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID}
                )
            await connection.run_sync(_upgrade)
    finally:
        await database.dispose()
