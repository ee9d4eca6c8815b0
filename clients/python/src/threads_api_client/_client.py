"""ThreadsClient and AsyncThreadsClient: the entry points."""

from types import TracebackType

import httpx

from threads_api_client._base_client import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    AsyncAPIClient,
    SyncAPIClient,
)
from threads_api_client.resources import (
    ApiKeys,
    AsyncApiKeys,
    AsyncEvents,
    AsyncMessages,
    AsyncSpaces,
    AsyncThreads,
    AsyncWebhooks,
    Events,
    Messages,
    Spaces,
    Threads,
    Webhooks,
)


class ThreadsClient(SyncAPIClient):
    """A client of the Threads API.

    `base_url` defaults to $THREADS_API_URL (else http://127.0.0.1:8000), `api_key` to
    $THREADS_API_KEY. `timeout` (seconds, or an httpx.Timeout) bounds each attempt;
    `max_retries` is how many times a request is sent again after a connection error, a
    timeout, 409 idempotency_in_flight, 429 or 503 (never for webhooks.rotate_secret and
    webhooks.retry_delivery, which would do it again). Close it, or use it as a context manager.
    """

    spaces: Spaces
    threads: Threads
    messages: Messages
    api_keys: ApiKeys
    events: Events
    webhooks: Webhooks

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: httpx.Client | None = None,
    ) -> None:
        super().__init__(
            base_url=base_url,
            api_key=api_key,
            timeout=timeout,
            max_retries=max_retries,
            http_client=http_client,
        )
        self.spaces = Spaces(self)
        self.threads = Threads(self)
        self.messages = Messages(self)
        self.api_keys = ApiKeys(self)
        self.events = Events(self)
        self.webhooks = Webhooks(self)

    def __enter__(self) -> "ThreadsClient":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class AsyncThreadsClient(AsyncAPIClient):
    """The asyncio twin of ThreadsClient: the same resources and methods, awaited; lists are
    used with `async for`. Close it with `await client.close()` or `async with`."""

    spaces: AsyncSpaces
    threads: AsyncThreads
    messages: AsyncMessages
    api_keys: AsyncApiKeys
    events: AsyncEvents
    webhooks: AsyncWebhooks

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(
            base_url=base_url,
            api_key=api_key,
            timeout=timeout,
            max_retries=max_retries,
            http_client=http_client,
        )
        self.spaces = AsyncSpaces(self)
        self.threads = AsyncThreads(self)
        self.messages = AsyncMessages(self)
        self.api_keys = AsyncApiKeys(self)
        self.events = AsyncEvents(self)
        self.webhooks = AsyncWebhooks(self)

    async def __aenter__(self) -> "AsyncThreadsClient":
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
