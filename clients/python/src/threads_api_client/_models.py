"""The objects of the API, as pydantic models. Fields a newer server adds are kept (in
`model_extra`) rather than refused; fields added to the API after 0.1 have defaults, so an
older server's answers still parse."""

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, PrivateAttr


@dataclass(frozen=True)
class ResponseInfo:
    """What the HTTP response that carried an object said besides its body."""

    status_code: int = 0
    request_id: str | None = None
    # The strong ETag of the response's body: for a thread or a message, pass it back as
    # `if_match=` to update only if nobody changed it since. None for the items of a list.
    etag: str | None = None
    location: str | None = None
    # True when the server answered a create from its idempotency record: a retry (or a
    # repeated call with the same idempotency key) whose first attempt had already succeeded.
    idempotent_replayed: bool = False
    # The Idempotency-Key the SDK sent (creates only); the same on every retry.
    idempotency_key: str | None = None
    # How many times the request was sent again before this answer.
    retries: int = 0
    headers: httpx.Headers = field(default_factory=httpx.Headers, repr=False)

    @classmethod
    def of(
        cls, response: httpx.Response, *, idempotency_key: str | None = None, retries: int = 0
    ) -> "ResponseInfo":
        headers = response.headers
        return cls(
            status_code=response.status_code,
            request_id=headers.get("x-request-id"),
            etag=headers.get("etag"),
            location=headers.get("location"),
            idempotent_replayed=headers.get("idempotent-replayed", "").lower() == "true",
            idempotency_key=idempotency_key,
            retries=retries,
            headers=headers,
        )


class APIObject(BaseModel):
    model_config = ConfigDict(extra="allow")

    _response: ResponseInfo = PrivateAttr(default_factory=ResponseInfo)

    @property
    def response(self) -> ResponseInfo:
        """The response this object came in (for a list item: the page's)."""
        return self._response

    @property
    def etag(self) -> str | None:
        return self._response.etag

    def __eq__(self, other: object) -> bool:
        """Equal when the data is: the response each came in does not count."""
        if not isinstance(other, APIObject):
            return NotImplemented
        return type(self) is type(other) and self.model_dump() == other.model_dump()


class Space(APIObject):
    id: str
    object: str = "space"
    name: str
    metadata: dict[str, str] = {}
    created_at: datetime
    updated_at: datetime


class ApiKey(APIObject):
    id: str
    object: str = "api_key"
    name: str
    scopes: list[str]
    space_ids: list[str] = []
    prefix: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class ApiKeyWithSecret(ApiKey):
    """A key as created: `secret` is the X-API-Key value, shown in this answer only."""

    secret: str


class LastMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    seq: int
    author: str | None = None
    preview: str
    created_at: datetime


class Thread(APIObject):
    id: str
    object: str = "thread"
    space_id: str
    title: str
    # "open", "locked" or "archived" (a plain string, so a status added later still parses).
    status: str
    metadata: dict[str, str] = {}
    message_count: int
    last_message_at: datetime
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None = None
    last_message: LastMessage | None = None


class Message(APIObject):
    id: str
    object: str = "message"
    space_id: str
    thread_id: str
    seq: int
    author: str | None = None
    # None once the message is erased (deleted_at is then set).
    content: str | None
    metadata: dict[str, str] = {}
    version: int = 1
    created_at: datetime
    edited_at: datetime | None = None
    deleted_at: datetime | None = None


class MessageVersion(APIObject):
    object: str = "message_version"
    message_id: str
    version: int
    content: str
    metadata: dict[str, str] = {}
    created_at: datetime


class ThreadWithMessage(APIObject):
    """The answer of `threads.create_with_message`: the new thread and its message 1. Its
    `etag` is that of this combined answer; the thread's own is in `threads.retrieve`."""

    object: str = "thread_with_message"
    thread: Thread
    message: Message


def with_response(obj: APIObject, info: ResponseInfo) -> None:
    """Attach `info` to `obj` and, without the ETag (it is the container's), to the objects
    it holds."""
    obj._response = info
    for name in type(obj).model_fields:
        value: Any = getattr(obj, name)
        if isinstance(value, APIObject):
            with_response(value, replace(info, etag=None))


class Event(APIObject):
    """One change in a space, at its `position` in the space's feed (strictly increasing)."""

    id: str
    object: str = "event"
    # "thread.created", "thread.updated", "message.created", "message.updated",
    # "message.deleted" (a plain string, so a type added later still parses).
    type: str
    space_id: str
    thread_id: str
    position: int
    created_at: datetime
    # The thread (thread.*) or message (message.*) after the change, as JSON.
    data: dict[str, Any]


class StreamToken(APIObject):
    """Opens one event stream of its space with `?token=` (for a browser's EventSource)."""

    token: str
    expires_at: datetime


class Webhook(APIObject):
    """Where a space's events are sent (admin keys only). Never holds its secret."""

    id: str
    object: str = "webhook"
    url: str
    # None: every space / every event type.
    space_ids: list[str] | None = None
    types: list[str] | None = None
    description: str | None = None
    enabled: bool
    # Why the service disabled it (the endpoint answered 410, or failed for 3 days); None
    # when it is enabled, or was disabled through the API.
    disabled_reason: str | None = None
    created_at: datetime
    updated_at: datetime


class WebhookWithSecret(Webhook):
    """A webhook as created or after `rotate_secret`: `secret` (`whsec_…`) signs its
    deliveries and is shown in this answer only."""

    secret: str


class WebhookDelivery(APIObject):
    """One attempt at sending an event to a webhook."""

    id: str
    object: str = "webhook_delivery"
    webhook_id: str
    event_id: str
    # 1 for the first attempt at this event, then 2, 3, …
    attempt: int
    # The receiver's status; None when no answer came.
    status_code: int | None = None
    duration_ms: int
    # Why the attempt failed; None on success.
    error: str | None = None
    # When the next attempt is due; None when none will follow.
    next_retry_at: datetime | None = None
    created_at: datetime
