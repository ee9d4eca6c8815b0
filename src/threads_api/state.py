"""What the application holds for its requests, typed: made once, in the lifespan (app.py).

`app_state(request)` is the one way to reach it. The dependencies below hand a request its
parts: its session (one request, one transaction: ADR 0004) and the database.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.applications import Starlette
from starlette.requests import HTTPConnection

from threads_api.auth.cache import PrincipalCache
from threads_api.auth.watcher import RevocationWatcher
from threads_api.config import Settings
from threads_api.db import Database
from threads_api.kit.crypto import SecretBox
from threads_api.kit.cursor import CursorCodec

if TYPE_CHECKING:
    # Named for the type checker only: the event runtime is made by workers.py, and the
    # layers that read this module sit below `event` (.importlinter, ADR 0006).
    from threads_api.event.broker import Broker
    from threads_api.event.streams import StreamRegistry
    from threads_api.webhook.dispatcher import Dispatcher

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_ATTRIBUTE = "threads_api"  # where it lives on Starlette's untyped `app.state`


@dataclass(slots=True)
class AppState:
    settings: Settings
    database: Database
    cursors: CursorCodec
    # Recently authenticated keys, and the watcher that learns of revocations (ADR 0005).
    principals: PrincipalCache
    revocations: RevocationWatcher
    # Wake-ups for the streams and long-polls of this process, and the open ones.
    broker: "Broker"
    streams: "StreamRegistry"
    # Webhooks: what seals their signing secrets, and this process's delivery engine.
    webhook_secrets: SecretBox
    webhooks: "Dispatcher"
    # Spaces seen to exist. Spaces are never deleted, so one seen once costs no query again.
    known_spaces: set[str] = field(default_factory=set)


def set_app_state(app: Starlette, state: AppState) -> None:
    setattr(app.state, _ATTRIBUTE, state)


def app_state(source: HTTPConnection | Starlette) -> AppState:
    """The state of the app serving this request (or of this app)."""
    app = source.app if isinstance(source, HTTPConnection) else source
    state = getattr(app.state, _ATTRIBUTE, None)
    if not isinstance(state, AppState):
        raise RuntimeError("the app has no state before its lifespan starts")
    return state


def database(request: Request) -> Database:
    return app_state(request).database


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's transaction: reads on the reader, everything else on the writer.

    Used with `scope="function"`, so the commit runs when the endpoint returns and before
    the response is sent: a client never sees a success that did not commit.
    """
    db = database(request)
    maker = db.reader if request.method in READ_METHODS else db.writer
    async with maker() as session, session.begin():
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
# For endpoints that must hold no session while they wait (streams, long-polls): each read
# is a short transaction of its own.
DatabaseDep = Annotated[Database, Depends(database)]
