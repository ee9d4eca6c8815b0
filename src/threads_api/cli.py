"""`threads-api`: serve, migrate, and manage keys and spaces from the shell."""

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click
from pydantic import ValidationError

from threads_api.auth.schemas import ApiKeyCreate
from threads_api.auth.service import api_key as api_key_service
from threads_api.config import Settings
from threads_api.db import Database, UnsafeDurability
from threads_api.errors import ThreadsError
from threads_api.logs import configure_logging
from threads_api.migrate import migrate
from threads_api.space.schemas import SpaceCreate
from threads_api.space.service import space as space_service

T = TypeVar("T")


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        # Not str(error): it quotes each input, and a rejected THREADS_API_ADMIN_KEY is a secret.
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in error.errors()
        )
        raise click.ClickException(f"invalid settings: {problems}") from None


def _with_database(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    async def run() -> T:
        database = Database(settings)
        try:
            return await work(database)
        finally:
            await database.dispose()

    try:
        return asyncio.run(run())
    except ThreadsError as error:
        raise click.ClickException(error.detail) from None


def _print_json(value: object) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


@click.group()
def main() -> None:
    """Threads API: spaces hold threads, threads hold messages."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1))
def serve(host: str, port: int, workers: int) -> None:
    """Migrate the database, make sure an admin key exists, and serve HTTP."""
    import uvicorn

    settings = _settings()
    # Before anything logs: stderr carries only JSON lines, from the migration and the
    # bootstrap (e.g. the warning about a revoked admin key) as much as from requests.
    configure_logging(settings.log_level)
    if workers > 1 and settings.is_sqlite:
        logging.getLogger("threads_api").warning("several workers on SQLite share one write lock")
    # Once, here, before any worker serves.
    asyncio.run(migrate(settings))
    try:
        _with_database(
            settings,
            lambda db: db.check_durability(allow_unsafe=settings.allow_unsafe_durability),
        )
    except UnsafeDurability as error:
        raise click.ClickException(f"refusing to serve: {error}") from None
    secret = _with_database(
        settings,
        lambda db: api_key_service.bootstrap(
            db, settings.admin_key.get_secret_value() if settings.admin_key else None
        ),
    )
    base = f"http://{host}:{port}"
    if secret is not None:
        click.echo("Created the first admin API key. It is shown only this once:")
        click.echo(f"  {secret}")
    click.echo(f"Threads API on {base}  (API docs: {base}/docs)", err=False)
    uvicorn.run(
        "threads_api.app:create_server_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=30,
    )


@main.command(name="migrate")
def migrate_command() -> None:
    """Bring the database schema up to date."""
    asyncio.run(migrate(_settings()))
    click.echo("database schema is up to date")


@main.group()
def keys() -> None:
    """Manage API keys."""


@keys.command(name="create")
@click.option("--name", required=True)
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(["read", "write", "admin"]),
    default=["read"],
    show_default=True,
)
@click.option("--space", "space_ids", multiple=True, help="A space the key may use (repeatable).")
def keys_create(name: str, scopes: tuple[str, ...], space_ids: tuple[str, ...]) -> None:
    """Create an API key and print its secret, once."""
    try:
        body = ApiKeyCreate(name=name, scopes=list(scopes), space_ids=list(space_ids))
    except ValidationError as error:
        raise click.ClickException(error.errors()[0]["msg"]) from None

    async def create(db: Database) -> dict[str, object]:
        async with db.writer() as session, session.begin():
            return (await api_key_service.create(session, body)).model_dump(mode="json")

    _print_json(_with_database(_settings(), create))


@keys.command(name="list")
def keys_list() -> None:
    """List API keys (never their secrets)."""

    async def list_all(db: Database) -> list[dict[str, object]]:
        found: list[dict[str, object]] = []
        after: str | None = None
        async with db.reader() as session, session.begin():
            while True:
                items, has_more = await api_key_service.page(session, after_id=after, limit=200)
                found += [item.model_dump(mode="json") for item in items]
                if not has_more:
                    return found
                after = items[-1].id

    _print_json(_with_database(_settings(), list_all))


@keys.command(name="revoke")
@click.argument("key_id")
def keys_revoke(key_id: str) -> None:
    """Revoke an API key at once."""

    async def revoke(db: Database) -> dict[str, object]:
        async with db.writer() as session, session.begin():
            return (await api_key_service.revoke(session, key_id)).model_dump(mode="json")

    _print_json(_with_database(_settings(), revoke))


@main.group()
def spaces() -> None:
    """Manage spaces."""


@spaces.command(name="create")
@click.option("--name", required=True)
def spaces_create(name: str) -> None:
    """Create a space."""
    try:
        body = SpaceCreate(name=name)
    except ValidationError as error:
        raise click.ClickException(error.errors()[0]["msg"]) from None

    async def create(db: Database) -> dict[str, object]:
        async with db.writer() as session, session.begin():
            return (await space_service.create(session, body)).body.model_dump(mode="json")

    _print_json(_with_database(_settings(), create))


@spaces.command(name="list")
def spaces_list() -> None:
    """List every space."""
    from threads_api.space import repository

    async def list_all(db: Database) -> list[dict[str, object]]:
        async with db.reader() as session, session.begin():
            rows = await repository.page(session, only=None, after_id=None, limit=1_000_000)
        return [{"id": r.id, "name": r.name, "created_at": r.created_at.isoformat()} for r in rows]

    _print_json(_with_database(_settings(), list_all))
