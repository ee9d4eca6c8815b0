"""Every operation of the HTTP API that the SDK calls: its method, its path template and the
SDK method that calls it. Requests can only be made through these, so this table is exactly
what the SDK calls; tests/test_sdk_drift.py compares it with the server's /openapi.json.

(Operations are matched on method and path, not on their `operationId`, which may be renamed.)
"""

import re
from dataclasses import dataclass
from urllib.parse import quote

_PARAM = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    # "<resource>.<method>", the same on ThreadsClient and AsyncThreadsClient.
    sdk_method: str
    # A create: sends an Idempotency-Key (generated unless given) and reuses it on retries.
    creates: bool = False
    # False for an operation that is not idempotent and takes no Idempotency-Key (a new
    # secret, a delivery sent now): sending it again would do it again, so it is sent once.
    retried: bool = True

    def url(self, params: dict[str, str]) -> str:
        """The path with its parameters filled in, each percent-encoded whole, so that an id
        can never reach another path ("../x" stays one segment)."""

        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            value = params.get(name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"{self.sdk_method}: `{name}` must be a non-empty string")
            return quote(value, safe="")

        return _PARAM.sub(fill, self.path)


OPERATIONS: list[Operation] = []


def _op(
    method: str, path: str, sdk_method: str, *, creates: bool = False, retried: bool = True
) -> Operation:
    operation = Operation(method, path, sdk_method, creates, retried)
    OPERATIONS.append(operation)
    return operation


_SPACE = "/v1/spaces/{space_id}"
_THREAD = _SPACE + "/threads/{thread_id}"
_MESSAGE = _THREAD + "/messages/{message_id}"

CREATE_SPACE = _op("POST", "/v1/spaces", "spaces.create", creates=True)
LIST_SPACES = _op("GET", "/v1/spaces", "spaces.list")
RETRIEVE_SPACE = _op("GET", _SPACE, "spaces.retrieve")
UPDATE_SPACE = _op("PATCH", _SPACE, "spaces.update")

CREATE_THREAD_WITH_MESSAGE = _op(
    "POST", _SPACE + "/threads/messages", "threads.create_with_message", creates=True
)
LIST_THREADS = _op("GET", _SPACE + "/threads", "threads.list")
RETRIEVE_THREAD = _op("GET", _THREAD, "threads.retrieve")
UPDATE_THREAD = _op("PATCH", _THREAD, "threads.update")
ARCHIVE_THREAD = _op("DELETE", _THREAD, "threads.archive")

CREATE_MESSAGE = _op("POST", _THREAD + "/messages", "messages.create", creates=True)
LIST_MESSAGES = _op("GET", _THREAD + "/messages", "messages.list")
RETRIEVE_MESSAGE = _op("GET", _MESSAGE, "messages.retrieve")
UPDATE_MESSAGE = _op("PATCH", _MESSAGE, "messages.update")
ERASE_MESSAGE = _op("DELETE", _MESSAGE, "messages.erase")
LIST_MESSAGE_VERSIONS = _op("GET", _MESSAGE + "/versions", "messages.list_versions")

CREATE_API_KEY = _op("POST", "/v1/api-keys", "api_keys.create", creates=True)
LIST_API_KEYS = _op("GET", "/v1/api-keys", "api_keys.list")
RETRIEVE_API_KEY = _op("GET", "/v1/api-keys/{key_id}", "api_keys.retrieve")
REVOKE_API_KEY = _op("DELETE", "/v1/api-keys/{key_id}", "api_keys.revoke")

LIST_EVENTS = _op("GET", _SPACE + "/events", "events.list")
STREAM_EVENTS = _op("GET", _SPACE + "/events/stream", "events.stream")
CREATE_STREAM_TOKEN = _op("POST", _SPACE + "/events/stream-tokens", "events.create_stream_token")

_WEBHOOK = "/v1/webhooks/{webhook_id}"

CREATE_WEBHOOK = _op("POST", "/v1/webhooks", "webhooks.create", creates=True)
LIST_WEBHOOKS = _op("GET", "/v1/webhooks", "webhooks.list")
RETRIEVE_WEBHOOK = _op("GET", _WEBHOOK, "webhooks.retrieve")
UPDATE_WEBHOOK = _op("PATCH", _WEBHOOK, "webhooks.update")
DELETE_WEBHOOK = _op("DELETE", _WEBHOOK, "webhooks.delete")
ROTATE_WEBHOOK_SECRET = _op(
    "POST", _WEBHOOK + "/rotate-secret", "webhooks.rotate_secret", retried=False
)
LIST_WEBHOOK_DELIVERIES = _op("GET", _WEBHOOK + "/deliveries", "webhooks.list_deliveries")
RETRY_WEBHOOK_DELIVERY = _op(
    "POST",
    _WEBHOOK + "/deliveries/{delivery_id}/retry",
    "webhooks.retry_delivery",
    retried=False,
)
