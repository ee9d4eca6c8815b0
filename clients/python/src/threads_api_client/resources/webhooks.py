"""client.webhooks (admin keys only): create, list, retrieve, update, delete, rotate_secret,
list_deliveries, retry_delivery; and verify, for receivers (contract §15)."""

from collections.abc import Sequence

import httpx

from threads_api_client import webhooks as signatures
from threads_api_client._base_client import RequestOptions, request_options
from threads_api_client._exceptions import WebhookSecretUnavailableError
from threads_api_client._models import (
    ResponseInfo,
    Webhook,
    WebhookDelivery,
    WebhookWithSecret,
    with_response,
)
from threads_api_client._operations import (
    CREATE_WEBHOOK,
    DELETE_WEBHOOK,
    LIST_WEBHOOK_DELIVERIES,
    LIST_WEBHOOKS,
    RETRIEVE_WEBHOOK,
    RETRY_WEBHOOK_DELIVERY,
    ROTATE_WEBHOOK_SECRET,
    UPDATE_WEBHOOK,
)
from threads_api_client._pagination import AsyncPager, Page, SyncPager
from threads_api_client._types import NOT_GIVEN, NotGiven
from threads_api_client.resources._resource import AsyncAPIResource, SyncAPIResource, body

# The server waits this long for the endpoint during retry_delivery: the read may take it.
DELIVERY_TIMEOUT_SECONDS = 10.0


def _listed(values: Sequence[str] | None) -> list[str] | None:
    """A list for the JSON body; one string is one value, not its characters."""
    if values is None:
        return None
    return [values] if isinstance(values, str) else list(values)


def _create(
    url: str,
    space_ids: Sequence[str] | None,
    types: Sequence[str] | None,
    description: str | None,
    idempotency_key: str | None,
) -> RequestOptions:
    fields = {
        "url": url,
        "space_ids": _listed(space_ids),
        "types": _listed(types),
        "description": description,
    }
    return request_options(
        CREATE_WEBHOOK,
        body={name: value for name, value in fields.items() if value is not None},
        idempotency_key=idempotency_key,
    )


def _created(response: httpx.Response, info: ResponseInfo) -> WebhookWithSecret:
    """The new webhook with its secret; WebhookSecretUnavailableError when the answer is a
    replay, which never holds the secret (it is shown once and never stored in the clear)."""
    payload = response.json()
    if isinstance(payload, dict) and payload.get("secret") is None:
        webhook = Webhook.model_validate(payload)
        with_response(webhook, info)
        raise WebhookSecretUnavailableError(webhook, request_id=info.request_id, response=response)
    created = WebhookWithSecret.model_validate(payload)
    with_response(created, info)
    return created


def _list(limit: int | None, cursor: str | None) -> RequestOptions:
    return request_options(LIST_WEBHOOKS, query={"limit": limit, "cursor": cursor})


def _id(webhook_id: str) -> dict[str, str]:
    return {"webhook_id": webhook_id}


def _update(
    webhook_id: str,
    url: str | NotGiven,
    space_ids: Sequence[str] | NotGiven | None,
    types: Sequence[str] | NotGiven | None,
    description: str | NotGiven | None,
    enabled: bool | NotGiven,
    if_match: str | None,
) -> RequestOptions:
    return request_options(
        UPDATE_WEBHOOK,
        _id(webhook_id),
        body=body(
            url=url,
            space_ids=space_ids if isinstance(space_ids, NotGiven) else _listed(space_ids),
            types=types if isinstance(types, NotGiven) else _listed(types),
            description=description,
            enabled=enabled,
        ),
        headers={"If-Match": if_match},
    )


def _delete(webhook_id: str, if_match: str | None) -> RequestOptions:
    return request_options(DELETE_WEBHOOK, _id(webhook_id), headers={"If-Match": if_match})


def _rotate(webhook_id: str, expire_old_in_seconds: int | None) -> RequestOptions:
    # The body is required: `{}` asks for the server's default.
    rotation = {"expire_old_in_seconds": expire_old_in_seconds}
    return request_options(
        ROTATE_WEBHOOK_SECRET,
        _id(webhook_id),
        body={name: value for name, value in rotation.items() if value is not None},
    )


def _deliveries(webhook_id: str, limit: int | None, cursor: str | None) -> RequestOptions:
    query = {"limit": limit, "cursor": cursor}
    return request_options(LIST_WEBHOOK_DELIVERIES, _id(webhook_id), query=query)


def _retry(webhook_id: str, delivery_id: str) -> RequestOptions:
    return request_options(
        RETRY_WEBHOOK_DELIVERY,
        {"webhook_id": webhook_id, "delivery_id": delivery_id},
        long_poll_seconds=DELIVERY_TIMEOUT_SECONDS,
    )


class Webhooks(SyncAPIResource):
    # For receivers; needs no client: `threads_api_client.webhooks.verify` is the same.
    verify = staticmethod(signatures.verify)

    def create(
        self,
        *,
        url: str,
        space_ids: Sequence[str] | None = None,
        types: Sequence[str] | None = None,
        description: str | None = None,
        idempotency_key: str | None = None,
    ) -> WebhookWithSecret:
        """Send events to `url`: those of `space_ids` (None: every space) of `types` (None:
        every type). Its signing `secret` is in this answer only. If the answer is lost and
        the retry gets the stored reply, WebhookSecretUnavailableError names the webhook,
        whose secret to rotate."""
        options = _create(url, space_ids, types, description, idempotency_key)
        response, info = self._client._send(options)
        return _created(response, info)

    def list(self, *, limit: int | None = None, cursor: str | None = None) -> SyncPager[Webhook]:
        """Every webhook, in creation order."""

        def fetch(page_cursor: str | None) -> Page[Webhook]:
            return self._client._page(Webhook, _list(limit, page_cursor))

        return SyncPager(fetch, cursor)

    def retrieve(self, webhook_id: str) -> Webhook:
        """The webhook; its `etag` is for `update(..., if_match=)` and `delete(..., if_match=)`."""
        return self._client._object(Webhook, request_options(RETRIEVE_WEBHOOK, _id(webhook_id)))

    def update(
        self,
        webhook_id: str,
        *,
        url: str | NotGiven = NOT_GIVEN,
        space_ids: Sequence[str] | NotGiven | None = NOT_GIVEN,
        types: Sequence[str] | NotGiven | None = NOT_GIVEN,
        description: str | NotGiven | None = NOT_GIVEN,
        enabled: bool | NotGiven = NOT_GIVEN,
        if_match: str | None = None,
    ) -> Webhook:
        """A merge patch: fields not given stay as they are; `space_ids=None` or `types=None`
        mean all, `description=None` removes it. `enabled=False` drops what was still to be
        sent; `enabled=True` sends the events from then on, never the ones in between. With
        `if_match=<etag>`, PreconditionFailedError if the webhook changed."""
        options = _update(webhook_id, url, space_ids, types, description, enabled, if_match)
        return self._client._object(Webhook, options)

    def delete(self, webhook_id: str, *, if_match: str | None = None) -> Webhook:
        """Remove the webhook, its deliveries log and what was still to be sent; the answer
        is the webhook as it was."""
        return self._client._object(Webhook, _delete(webhook_id, if_match))

    def rotate_secret(
        self, webhook_id: str, *, expire_old_in_seconds: int | None = None
    ) -> WebhookWithSecret:
        """A new signing secret, in this answer only. The old one keeps signing next to it
        for `expire_old_in_seconds` (the server's default: a day; 0: it stops at once), so
        receivers can switch in their own time. Never retried by the SDK: each call makes a
        secret; if no answer came, call it again (with 0 to retire the unseen one)."""
        return self._client._object(WebhookWithSecret, _rotate(webhook_id, expire_old_in_seconds))

    def list_deliveries(
        self, webhook_id: str, *, limit: int | None = None, cursor: str | None = None
    ) -> SyncPager[WebhookDelivery]:
        """The webhook's delivery attempts, newest first (kept 7 days)."""

        def fetch(page_cursor: str | None) -> Page[WebhookDelivery]:
            return self._client._page(WebhookDelivery, _deliveries(webhook_id, limit, page_cursor))

        return SyncPager(fetch, cursor)

    def retry_delivery(self, webhook_id: str, delivery_id: str) -> WebhookDelivery:
        """Send the delivery's event again, now, and answer with this attempt (the server
        waits for the endpoint, up to 10 s). EventPurgedError (410) when the event is past
        its retention. Never retried by the SDK: each call is one more attempt."""
        return self._client._object(WebhookDelivery, _retry(webhook_id, delivery_id))


class AsyncWebhooks(AsyncAPIResource):
    # For receivers; needs no client (and is not awaited): see Webhooks.verify.
    verify = staticmethod(signatures.verify)

    async def create(
        self,
        *,
        url: str,
        space_ids: Sequence[str] | None = None,
        types: Sequence[str] | None = None,
        description: str | None = None,
        idempotency_key: str | None = None,
    ) -> WebhookWithSecret:
        """Send events to `url`; see ThreadsClient.webhooks.create."""
        options = _create(url, space_ids, types, description, idempotency_key)
        response, info = await self._client._send(options)
        return _created(response, info)

    def list(self, *, limit: int | None = None, cursor: str | None = None) -> AsyncPager[Webhook]:
        """Every webhook, in creation order; `async for` over it."""

        async def fetch(page_cursor: str | None) -> Page[Webhook]:
            return await self._client._page(Webhook, _list(limit, page_cursor))

        return AsyncPager(fetch, cursor)

    async def retrieve(self, webhook_id: str) -> Webhook:
        options = request_options(RETRIEVE_WEBHOOK, _id(webhook_id))
        return await self._client._object(Webhook, options)

    async def update(
        self,
        webhook_id: str,
        *,
        url: str | NotGiven = NOT_GIVEN,
        space_ids: Sequence[str] | NotGiven | None = NOT_GIVEN,
        types: Sequence[str] | NotGiven | None = NOT_GIVEN,
        description: str | NotGiven | None = NOT_GIVEN,
        enabled: bool | NotGiven = NOT_GIVEN,
        if_match: str | None = None,
    ) -> Webhook:
        """A merge patch; see ThreadsClient.webhooks.update."""
        options = _update(webhook_id, url, space_ids, types, description, enabled, if_match)
        return await self._client._object(Webhook, options)

    async def delete(self, webhook_id: str, *, if_match: str | None = None) -> Webhook:
        return await self._client._object(Webhook, _delete(webhook_id, if_match))

    async def rotate_secret(
        self, webhook_id: str, *, expire_old_in_seconds: int | None = None
    ) -> WebhookWithSecret:
        """A new signing secret; never retried (see ThreadsClient.webhooks.rotate_secret)."""
        options = _rotate(webhook_id, expire_old_in_seconds)
        return await self._client._object(WebhookWithSecret, options)

    def list_deliveries(
        self, webhook_id: str, *, limit: int | None = None, cursor: str | None = None
    ) -> AsyncPager[WebhookDelivery]:
        """The webhook's delivery attempts, newest first; `async for` over it."""

        async def fetch(page_cursor: str | None) -> Page[WebhookDelivery]:
            options = _deliveries(webhook_id, limit, page_cursor)
            return await self._client._page(WebhookDelivery, options)

        return AsyncPager(fetch, cursor)

    async def retry_delivery(self, webhook_id: str, delivery_id: str) -> WebhookDelivery:
        """Send the delivery's event again, now; never retried (see ThreadsClient)."""
        options = _retry(webhook_id, delivery_id)
        return await self._client._object(WebhookDelivery, options)
