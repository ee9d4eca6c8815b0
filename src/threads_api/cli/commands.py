"""The commands of `threads-api`; how they fail is errors.py."""

import errno
import json
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, get_args

import click

from threads_api import __version__
from threads_api.api_key.schemas import ApiKey, ApiKeyCreate
from threads_api.api_key.service import api_key as api_key_service
from threads_api.app_secrets import load_webhook_secrets_box
from threads_api.auth.principal import SCOPES, Principal
from threads_api.cli.errors import Cli, run, settings_from, validated, where, with_database
from threads_api.db import Database, UnsafeDurability
from threads_api.event.schemas import EventType
from threads_api.kit.ids import Prefix, is_valid_id
from threads_api.logs import configure_logging
from threads_api.message.erasure import checkpoint_after_erasure, vacuum
from threads_api.message.service import message as message_service
from threads_api.migrate import migrate
from threads_api.space.schemas import Space, SpaceCreate
from threads_api.space.service import space as space_service
from threads_api.webhook.schemas import Webhook, WebhookCreate
from threads_api.webhook.service import webhook as webhook_service

_PAGE_SIZE = 200
# The operator at the shell sees every space, as an admin key does.
_OPERATOR = Principal(key_id="cli", scopes=frozenset({"admin"}), space_ids=frozenset())

database_url_option = click.option(
    "--database-url",
    metavar="URL",
    help="The database: postgresql://USER@HOST/NAME or sqlite:///PATH. "
    "Overrides THREADS_API_DATABASE_URL (default: sqlite:///./data/threads.db).",
)


async def _every_page(
    page: Callable[[str | None], Awaitable[tuple[Sequence[ApiKey | Space | Webhook], bool]]],
) -> list[dict[str, Any]]:
    """Every item of a keyset-paginated list, rendered as the API renders it."""
    found: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        items, has_more = await page(after)
        found += [item.model_dump(mode="json") for item in items]
        if not has_more or not items:
            return found
        after = items[-1].id


def _print_json(value: object) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


@click.group(cls=Cli)
@click.version_option(__version__, prog_name="threads-api")
def main() -> None:
    """Threads API: spaces hold threads, threads hold messages."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1))
@database_url_option
def serve(host: str, port: int, workers: int, database_url: str | None) -> None:
    """Migrate the database, make sure an admin key exists, and serve HTTP."""
    from threads_api import server as http_server

    settings = settings_from(database_url)
    if database_url is not None:
        os.environ["THREADS_API_DATABASE_URL"] = database_url  # the workers' Settings() read it
    # Before anything logs: stderr carries only JSON lines, from the migration and the
    # bootstrap (e.g. the warning about a revoked admin key) as much as from requests.
    configure_logging(settings.log_level)
    # Bound first: a taken port is one clear line before anything else happens, no admin key
    # is generated for a server that cannot start, and nothing can take the port in between.
    try:
        sock = http_server.listen(host, port)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise click.ClickException(
                f"port {port} on {host} is in use; choose another with --port"
            ) from None
        raise click.ClickException(f"cannot listen on {host}:{port}: {error.strerror}") from None
    config = http_server.server_config(settings, workers=workers)
    if workers > 1 and settings.is_sqlite:
        logging.getLogger("threads_api").warning("several workers on SQLite share one write lock")
    # Once, here, before any worker serves.
    run(settings, migrate(settings))
    try:
        with_database(
            settings,
            lambda db: db.check_durability(allow_unsafe=settings.allow_unsafe_durability),
        )
    except UnsafeDurability as error:
        raise click.ClickException(f"refusing to serve: {error}") from None
    secret = with_database(
        settings,
        lambda db: api_key_service.bootstrap(
            db, settings.admin_key.get_secret_value() if settings.admin_key else None
        ),
    )
    # The bound port, which `--port 0` leaves to the system.
    address = f"[{host}]" if ":" in host else host
    base = f"http://{address}:{sock.getsockname()[1]}"
    if secret is not None:
        click.echo("Created the first admin API key. It is shown only this once:")
        click.echo(f"  {secret}")
    click.echo(f"Threads API on {base}  (API docs: {base}/docs)", err=False)
    http_server.serve(config, sock)


@main.command(name="migrate")
@database_url_option
def migrate_command(database_url: str | None) -> None:
    """Create the database, or bring its schema up to date. Safe to run again."""
    settings = settings_from(database_url)
    run(settings, migrate(settings))
    click.echo(f"the schema of the {where(settings)} is up to date")


@main.group()
def keys() -> None:
    """Manage API keys."""


@keys.command(name="create")
@click.option("--name", required=True, help="A label for the key (1-200 characters).")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(SCOPES),
    default=["read"],
    show_default=True,
    help="What the key may do (repeatable); admin also means every space.",
)
@click.option(
    "--space",
    "space_ids",
    multiple=True,
    metavar="SPACE_ID",
    help="A space the key may use (repeatable); required unless the scope is admin.",
)
@database_url_option
def keys_create(
    name: str, scopes: tuple[str, ...], space_ids: tuple[str, ...], database_url: str | None
) -> None:
    """Create an API key; print it as JSON with its secret, shown only this once."""
    body = validated(ApiKeyCreate, name=name, scopes=list(scopes), space_ids=list(space_ids))

    async def create(db: Database) -> dict[str, Any]:
        async with db.writer() as session, session.begin():
            return (await api_key_service.create(session, body)).model_dump(mode="json")

    _print_json(with_database(settings_from(database_url), create))


@keys.command(name="list")
@database_url_option
def keys_list(database_url: str | None) -> None:
    """List every API key as JSON, revoked ones too (never their secrets)."""

    async def list_all(db: Database) -> list[dict[str, Any]]:
        async with db.reader() as session, session.begin():
            return await _every_page(
                lambda after: api_key_service.page(session, after_id=after, limit=_PAGE_SIZE)
            )

    _print_json(with_database(settings_from(database_url), list_all))


@keys.command(name="revoke")
@click.argument("key_id")
@database_url_option
def keys_revoke(key_id: str, database_url: str | None) -> None:
    """Revoke the API key KEY_ID (key_..., as `keys list` shows it) at once; print it as JSON.

    Revoking a revoked key changes nothing."""
    if not is_valid_id("key", key_id):
        raise click.ClickException("KEY_ID: not an API key id (key_ and 26 letters or digits)")

    async def revoke(db: Database) -> dict[str, Any]:
        async with db.writer() as session, session.begin():
            return (await api_key_service.revoke(session, key_id)).model_dump(mode="json")

    _print_json(with_database(settings_from(database_url), revoke))


@main.group()
def spaces() -> None:
    """Manage spaces."""


@spaces.command(name="create")
@click.option("--name", required=True, help="The space's name (1-200 characters).")
@database_url_option
def spaces_create(name: str, database_url: str | None) -> None:
    """Create a space; print it as JSON."""
    body = validated(SpaceCreate, name=name)

    async def create(db: Database) -> dict[str, Any]:
        async with db.writer() as session, session.begin():
            return (await space_service.create(session, body)).model_dump(mode="json")

    _print_json(with_database(settings_from(database_url), create))


@spaces.command(name="list")
@database_url_option
def spaces_list(database_url: str | None) -> None:
    """List every space as JSON, oldest first."""

    async def list_all(db: Database) -> list[dict[str, Any]]:
        async with db.reader() as session, session.begin():
            return await _every_page(
                lambda after: space_service.page(
                    session, _OPERATOR, after_id=after, limit=_PAGE_SIZE
                )
            )

    _print_json(with_database(settings_from(database_url), list_all))


@main.group()
def webhooks() -> None:
    """Manage webhooks: the URLs that are sent events, signed."""


@webhooks.command(name="create")
@click.option(
    "--url",
    required=True,
    help="Where events are sent: http:// or https://, without credentials or a fragment.",
)
@click.option(
    "--space",
    "space_ids",
    multiple=True,
    metavar="SPACE_ID",
    help="A space whose events are sent (repeatable); none: every space.",
)
@click.option(
    "--type",
    "types",
    multiple=True,
    type=click.Choice(get_args(EventType)),
    help="An event type that is sent (repeatable); none: every type.",
)
@click.option("--description", help="A note for people (at most 500 characters).")
@database_url_option
def webhooks_create(
    url: str,
    space_ids: tuple[str, ...],
    types: tuple[str, ...],
    description: str | None,
    database_url: str | None,
) -> None:
    """Create a webhook; print it as JSON with its signing secret, shown only this once.

    Run it with the server's THREADS_API_SECRET_KEY, if it has one: the secret is stored
    sealed with that key."""
    body = validated(
        WebhookCreate,
        url=url,
        space_ids=list(space_ids) or None,
        types=list(types) or None,
        description=description,
    )
    settings = settings_from(database_url)

    async def create(db: Database) -> dict[str, Any]:
        box = await load_webhook_secrets_box(db, settings)
        async with db.writer() as session, session.begin():
            return (await webhook_service.create(session, box, body)).model_dump(mode="json")

    _print_json(with_database(settings, create))


@webhooks.command(name="list")
@database_url_option
def webhooks_list(database_url: str | None) -> None:
    """List every webhook as JSON, oldest first (never their secrets)."""

    async def list_all(db: Database) -> list[dict[str, Any]]:
        async with db.reader() as session, session.begin():
            return await _every_page(
                lambda after: webhook_service.page(session, after_id=after, limit=_PAGE_SIZE)
            )

    _print_json(with_database(settings_from(database_url), list_all))


@webhooks.command(name="delete")
@click.argument("webhook_id")
@database_url_option
def webhooks_delete(webhook_id: str, database_url: str | None) -> None:
    """Delete the webhook WEBHOOK_ID (whk_..., as `webhooks list` shows it), with its
    deliveries log and what was still to be sent to it; print it as JSON, as it was."""
    if not is_valid_id("whk", webhook_id):
        raise click.ClickException("WEBHOOK_ID: not a webhook id (whk_ and 26 letters or digits)")

    async def delete(db: Database) -> dict[str, Any]:
        async with db.writer() as session, session.begin():
            removed = await webhook_service.delete(session, webhook_id, if_match=None)
            return removed.model_dump(mode="json")

    _print_json(with_database(settings_from(database_url), delete))


@main.group()
def messages() -> None:
    """Erase messages (answering an erasure request)."""


@messages.command(name="erase")
@click.argument("space_id", metavar="SPACE")
@click.argument("thread_id", metavar="THREAD")
@click.argument("message_id", metavar="MESSAGE")
@click.option(
    "--vacuum",
    "vacuum_tables",
    is_flag=True,
    help="PostgreSQL: then VACUUM the tables that held the content, so that no row version, "
    "live or dead, keeps it. (SQLite needs no flag: its WAL is truncated after every erasure.)",
)
@click.option(
    "--vacuum-full",
    is_flag=True,
    help="PostgreSQL: VACUUM FULL instead, which also rewrites the tables into new files, so "
    "that no stale bytes stay in free page space; it locks the tables while it runs.",
)
@database_url_option
def messages_erase(
    space_id: str,
    thread_id: str,
    message_id: str,
    vacuum_tables: bool,
    vacuum_full: bool,
    database_url: str | None,
) -> None:
    """Erase the message MESSAGE of thread THREAD in space SPACE, as DELETE on it does: its
    content, earlier versions and stored copies go for good; print the tombstone as JSON.

    Erasing an erased message changes nothing."""
    given: tuple[tuple[str, Prefix, str], ...] = (
        (space_id, "spc", "SPACE"),
        (thread_id, "thr", "THREAD"),
        (message_id, "msg", "MESSAGE"),
    )
    for value, prefix, name in given:
        if not is_valid_id(prefix, value):
            raise click.ClickException(f"{name}: not an id ({prefix}_ and 26 letters or digits)")

    async def erase(db: Database) -> dict[str, Any]:
        async with db.writer() as session, session.begin():
            tombstone = await message_service.erase(
                session, space_id, thread_id, message_id, if_match=None
            )
        # After the commit, as the API does after its response (ADR 0007).
        if vacuum_tables or vacuum_full:
            await vacuum(db, full=vacuum_full)
        else:
            await checkpoint_after_erasure(db)
        return tombstone.model_dump(mode="json")

    _print_json(with_database(settings_from(database_url), erase))
