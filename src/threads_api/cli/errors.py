"""How a command fails: every failure, foreseen or not, is one line on stderr (`Error: ...`)
naming what went wrong and what to do about it, never a traceback. A database is named by its
path or its URL without the password."""

import asyncio
import os
import re
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, TypeVar

import click
from pydantic import BaseModel, ValidationError
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from threads_api.config import Settings
from threads_api.db import Database
from threads_api.errors import ThreadsError
from threads_api.kit.validation import error_text, field_name
from threads_api.migrate import SchemaNotReady, check_schema

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

# The option that gives each field of a request body: errors name what the operator typed.
OPTIONS = {
    "name": "--name",
    "scopes": "--scope",
    "space_ids": "--space",
    "url": "--url",
    "types": "--type",
    "description": "--description",
}
MAX_REPORTED_ERRORS = 5


def settings_from(database_url: str | None) -> Settings:
    try:
        return Settings() if database_url is None else Settings(database_url=database_url)
    except ValidationError as error:
        # Not str(error): it quotes each input, and a database URL or an admin key is a secret.
        problems = "; ".join(
            error_text(e, _setting_name(e["loc"], database_url))
            for e in error.errors()[:MAX_REPORTED_ERRORS]
        )
        raise click.ClickException(f"invalid settings: {problems}") from None


def _setting_name(loc: Sequence[str | int], database_url: str | None) -> str:
    name = field_name(loc)
    if name == "database_url" and database_url is not None:
        return "--database-url"
    return f"THREADS_API_{name.upper()}" if name else ""


def _option(loc: Sequence[str | int]) -> str:
    """The option that gave the value at `loc` (`--space` for `space_ids.0`), else the field."""
    name = field_name(loc)
    return OPTIONS.get(name.split(".")[0], name)


def validated(schema: type[M], **values: object) -> M:
    try:
        return schema(**values)
    except ValidationError as error:
        errors = error.errors()[:MAX_REPORTED_ERRORS]
        texts = (error_text(e, _option(e["loc"])) for e in errors)
        raise click.ClickException("; ".join(texts)) from None


def where(settings: Settings) -> str:
    """The database as the operator knows it: its file, or its URL without the password."""
    url = make_url(settings.database_url)
    if not settings.is_sqlite:
        return f"PostgreSQL database {url.render_as_string(hide_password=True)}"
    if not url.database or url.database == ":memory:":
        return "in-memory SQLite database"
    return f"SQLite database {os.path.abspath(url.database)}"


def _reason(settings: Settings, error: Exception) -> str:
    """The driver's own words on what failed, on one line and without the password."""
    cause = error.orig if isinstance(error, sa_exc.DBAPIError) and error.orig else error
    if isinstance(cause, TimeoutError):
        return f"no answer within {settings.database_timeout_seconds:g} s"
    lines = str(cause).strip().splitlines()
    # asyncpg's errors, through SQLAlchemy's adapter, read "<class 'asyncpg...'>: message".
    text = re.sub(r"^<class '[\w.]+'>: ", "", lines[0]) if lines else type(cause).__name__
    password = make_url(settings.database_url).password
    if password:
        text = text.replace(str(password), "***")
    return text[:300]


def _error_text(error: ThreadsError) -> str:
    if not error.errors:
        return error.detail
    return "; ".join(
        f"{_option(e['loc'])}: {e['message']}" if _option(e["loc"]) else str(e["message"])
        for e in error.errors[:MAX_REPORTED_ERRORS]
    )


def run(settings: Settings, work: Coroutine[Any, Any, T]) -> T:
    """Run `work`; whatever goes wrong with the database becomes one line that names it."""
    try:
        return asyncio.run(work)
    except ThreadsError as error:
        raise click.ClickException(_error_text(error)) from None
    except SchemaNotReady as error:
        raise click.ClickException(f"the {where(settings)} {error}") from None
    except (sa_exc.SQLAlchemyError, OSError, TimeoutError) as error:
        reason = _reason(settings, error)
        raise click.ClickException(f"cannot use the {where(settings)}: {reason}") from None


def _require_database_file(settings: Settings) -> None:
    # Only `migrate` and `serve` create a database; opening a missing file would fail anyway.
    path = make_url(settings.database_url).database
    if settings.is_sqlite and path and path != ":memory:" and not os.path.exists(path):
        raise click.ClickException(
            f"no database at {os.path.abspath(path)}: create it with `threads-api migrate` "
            "(or `threads-api serve`), or name another with --database-url or "
            "THREADS_API_DATABASE_URL"
        )


def with_database(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run `work` on the database, which must exist and have this version's schema."""
    _require_database_file(settings)

    async def use() -> T:
        database = Database(settings)
        try:
            await check_schema(database)
            return await work(database)
        finally:
            await database.dispose()

    return run(settings, use())


class Cli(click.Group):
    """The root group: even an error nobody foresaw is one line, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except BrokenPipeError:
            raise  # click exits quietly when stdout is closed, e.g. by `| head`
        except Exception as error:
            # Only the type: a message could quote a secret.
            raise click.ClickException(
                f"unexpected {type(error).__name__}; please report it with the command you ran"
            ) from None
