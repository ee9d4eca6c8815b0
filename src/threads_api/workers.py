"""The background loops of one server process, started and stopped in the app's lifespan.

- the revocation watcher (auth/watcher.py): learns of keys revoked by any process;
- the idempotency purge: deletes expired idempotency records;
- the event purge: deletes events past their retention and records the watermark;
- the event broker (event/broker.py): wakes this process's streams and long-polls, with its
  own LISTEN connection (PostgreSQL) or change poll (SQLite), started when first needed;
- the end of revoked keys' streams, as soon as the watcher learns of the revocation;
- the streams' one clock: heartbeats of idle streams, and the end of 24 h old ones;
- the webhook dispatcher (webhook/dispatcher.py), woken by this process's appends.

Each gets the settings and the database the requests use. On shutdown the open streams end
first (each told to resume elsewhere), then the loops stop, then the database is closed.
"""

import asyncio
import contextlib

from threads_api.auth.cache import PrincipalCache
from threads_api.auth.watcher import RevocationWatcher
from threads_api.config import Settings
from threads_api.db import Database
from threads_api.event.broker import Broker
from threads_api.event.service import purge_forever as purge_events_forever
from threads_api.event.streams import StreamRegistry
from threads_api.idempotency.service import purge_expired_forever
from threads_api.kit.crypto import SecretBox
from threads_api.webhook.dispatcher import Dispatcher


class Workers:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        principals: PrincipalCache,
        webhook_secrets: SecretBox,
    ) -> None:
        """Make what requests use too (the app's state, state.py): revocations, broker,
        streams."""
        self._database = database
        self._settings = settings
        self._tasks: list[asyncio.Task[None]] = []
        self.revocations = RevocationWatcher(
            database, principals, settings.revocation_poll_ms / 1000
        )
        self.broker = Broker(database, settings)
        self.streams = StreamRegistry(database, self.broker, settings)
        self.webhooks = Dispatcher(database, settings, webhook_secrets)
        self.broker.on_append(self.webhooks.appended)

    def start(self) -> None:
        loops = {
            "revocation watcher": self.revocations.run(),
            "idempotency purge": purge_expired_forever(
                self._database, self._settings.idempotency_ttl_seconds
            ),
            "event purge": purge_events_forever(
                self._database, self._settings.event_retention_days
            ),
            "revoked streams": self.streams.end_revoked_forever(self.revocations),
            "stream heartbeats": self.streams.tick_forever(),
            "webhook dispatcher": self.webhooks.run(),
        }
        self._tasks = [asyncio.create_task(loop, name=name) for name, loop in loops.items()]

    async def stop(self) -> None:
        await self.streams.stop()
        await self.webhooks.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.broker.stop()
