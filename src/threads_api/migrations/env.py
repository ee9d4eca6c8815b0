"""Alembic environment: run by `threads-api migrate` with a connection already open, or by
the `alembic` command, which connects to THREADS_API_DATABASE_URL itself."""

import asyncio

from alembic import context
from sqlalchemy import Connection

from threads_api.models import Base

target_metadata = Base.metadata


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_standalone() -> None:
    from threads_api.config import Settings
    from threads_api.db import Database

    async def run() -> None:
        database = Database(Settings(), migrating=True)
        try:
            async with database.write_engine.begin() as connection:
                await connection.run_sync(run_on)
        finally:
            await database.dispose()

    asyncio.run(run())


connection = context.config.attributes.get("connection")
if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `threads-api migrate`")
if connection is None:
    run_standalone()
else:
    run_on(connection)
