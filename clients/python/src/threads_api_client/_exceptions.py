"""The errors the SDK raises. Every error answer of the API (an RFC 9457 problem document)
becomes an exception chosen by its `code`, or by its status when the code is one this version
does not know:

ThreadsClientError                    anything this package raises
 + APIError                           a failed request: status, code, detail, request_id
    + APIConnectionError              no answer (connection refused or lost), after the retries
    |  + APITimeoutError              no answer in time, after the retries
    + APIStatusError                  an error answer
    |  + BadRequestError           400
    |  + AuthenticationError       401
    |  + PermissionDeniedError     403
    |  + NotFoundError             404
    |  + MethodNotAllowedError     405
    |  + ConflictError             409
    |  |  + ThreadClosedError          thread_closed
    |  |  + IdempotencyInFlightError   idempotency_in_flight
    |  |  + MessageDeletedError        message_deleted
    |  + GoneError                 410
    |  |  + EventPurgedError           event_purged
    |  + PreconditionFailedError   412
    |  + PayloadTooLargeError      413
    |  + UnsupportedMediaTypeError 415
    |  + ValidationError           422 (with .errors)
    |  |  + IdempotencyKeyReusedError  idempotency_key_reused
    |  |  + UnknownSpaceError          unknown_space
    |  + RateLimitError            429
    |  + InternalServerError       500 and any other 5xx
    |  + ServiceUnavailableError   503
    + SecretUnavailableError          created, but its secret (shown once) was lost on the way
       + ApiKeySecretUnavailableError    by api_keys.create: revoke the key, create another
       + WebhookSecretUnavailableError   by webhooks.create: rotate its secret
 + WebhookVerificationError           webhooks.verify: not a delivery, as signed, of this webhook
"""

from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict

from threads_api_client._models import ApiKey, APIObject, Webhook

_MAX_FOREIGN_DETAIL = 200


class ThreadsClientError(Exception):
    """The base of every exception of this package (a missing API key, say)."""


class FieldError(BaseModel):
    """One broken rule of a `422`: where (`["body", "content"]`) and what."""

    model_config = ConfigDict(extra="allow")

    loc: list[str | int] = []
    message: str = ""


class APIError(ThreadsClientError):
    status_class: ClassVar[int | None] = None

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        code: str | None = None,
        title: str | None = None,
        request_id: str | None = None,
        errors: list[FieldError] | None = None,
        response: httpx.Response | None = None,
    ) -> None:
        self.detail = detail
        self.status = status
        self.code = code
        self.title = title
        self.request_id = request_id
        self.errors = errors or []
        self.response = response
        super().__init__(detail)

    def __str__(self) -> str:
        head = " ".join(str(part) for part in (self.status, self.code) if part is not None)
        text = f"{head}: {self.detail}" if head else self.detail
        return f"{text} (request_id {self.request_id})" if self.request_id else text


class APIConnectionError(APIError):
    pass


class APITimeoutError(APIConnectionError):
    pass


class APIStatusError(APIError):
    pass


class BadRequestError(APIStatusError):
    status_class = 400


class AuthenticationError(APIStatusError):
    status_class = 401


class PermissionDeniedError(APIStatusError):
    status_class = 403


class NotFoundError(APIStatusError):
    status_class = 404


class MethodNotAllowedError(APIStatusError):
    status_class = 405


class ConflictError(APIStatusError):
    status_class = 409


class ThreadClosedError(ConflictError):
    pass


class IdempotencyInFlightError(ConflictError):
    pass


class MessageDeletedError(ConflictError):
    pass


class GoneError(APIStatusError):
    status_class = 410


class EventPurgedError(GoneError):
    """webhooks.retry_delivery: the delivery's event is past the retention and was purged."""


class PreconditionFailedError(APIStatusError):
    status_class = 412


class PayloadTooLargeError(APIStatusError):
    status_class = 413


class UnsupportedMediaTypeError(APIStatusError):
    status_class = 415


class ValidationError(APIStatusError):
    status_class = 422


class IdempotencyKeyReusedError(ValidationError):
    pass


class UnknownSpaceError(ValidationError):
    pass


class RateLimitError(APIStatusError):
    status_class = 429


class InternalServerError(APIStatusError):
    status_class = 500


class ServiceUnavailableError(APIStatusError):
    status_class = 503


class SecretUnavailableError(APIError):
    """A create whose answer holds a secret shown once (`api_keys.create`,
    `webhooks.create`) was answered from its idempotency record (a retry after a lost
    response, or a repeated call with the same idempotency key): the object exists, but its
    secret is never stored, so it cannot be given to you. `.created` is the object; the
    message says how to recover."""

    def __init__(
        self,
        created: APIObject,
        detail: str,
        *,
        request_id: str | None,
        response: httpx.Response,
    ) -> None:
        self.created = created
        super().__init__(
            detail, status=response.status_code, request_id=request_id, response=response
        )


class ApiKeySecretUnavailableError(SecretUnavailableError):
    """From `api_keys.create`: `.api_key` is the key made; revoke it and create another."""

    def __init__(
        self, api_key: ApiKey, *, request_id: str | None, response: httpx.Response
    ) -> None:
        self.api_key = api_key
        self.key_id: str = api_key.id
        super().__init__(
            api_key,
            f"The API key {api_key.id} ({api_key.name!r}) was created, but its secret is lost: "
            "this answer is a replay of the creation, and the secret is shown only once. "
            f"Revoke it (client.api_keys.revoke({api_key.id!r})) and create a new key.",
            request_id=request_id,
            response=response,
        )


class WebhookSecretUnavailableError(SecretUnavailableError):
    """From `webhooks.create`: `.webhook` is the webhook made, whose signing secret is lost;
    rotate it for a new one (it is already sending events, signed with the lost one)."""

    def __init__(
        self, webhook: Webhook, *, request_id: str | None, response: httpx.Response
    ) -> None:
        self.webhook = webhook
        self.webhook_id: str = webhook.id
        # Without the query string, which may hold a token, in case this message is logged.
        url = webhook.url.split("?", 1)[0]
        super().__init__(
            webhook,
            f"The webhook {webhook.id} (to {url}) was created, but its signing secret is "
            "lost: this answer is a replay of the creation, and the secret is shown only "
            "once. Rotate it for a new one, retiring the lost one at once: "
            f"client.webhooks.rotate_secret({webhook.id!r}, expire_old_in_seconds=0).",
            request_id=request_id,
            response=response,
        )


class WebhookVerificationError(ThreadsClientError):
    """`webhooks.verify`: the request is not a delivery of this webhook, as sent (no or no
    matching signature, a changed body, a timestamp too far from now). Answer it 400 and
    do not act on it."""


_BY_CODE: dict[str, type[APIStatusError]] = {
    "thread_closed": ThreadClosedError,
    "idempotency_in_flight": IdempotencyInFlightError,
    "message_deleted": MessageDeletedError,
    "event_purged": EventPurgedError,
    "idempotency_key_reused": IdempotencyKeyReusedError,
    "unknown_space": UnknownSpaceError,
}

_BY_STATUS: dict[int, type[APIStatusError]] = {
    cls.status_class: cls
    for cls in (
        BadRequestError,
        AuthenticationError,
        PermissionDeniedError,
        NotFoundError,
        MethodNotAllowedError,
        ConflictError,
        GoneError,
        PreconditionFailedError,
        PayloadTooLargeError,
        UnsupportedMediaTypeError,
        ValidationError,
        RateLimitError,
        InternalServerError,
        ServiceUnavailableError,
    )
    if cls.status_class is not None
}


def problem_of(response: httpx.Response) -> dict[str, Any]:
    """The problem document of an error answer; {} when the body is not one (a proxy's page)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def error_class(status: int, code: str | None) -> type[APIStatusError]:
    """By `code` when this version knows it (and it belongs to this status), else by status."""
    by_status = _BY_STATUS.get(status)
    if by_status is None:
        by_status = InternalServerError if status >= 500 else APIStatusError
    by_code = _BY_CODE.get(code or "")
    if by_code is not None and issubclass(by_code, by_status):
        return by_code
    return by_status


def error_from_response(response: httpx.Response, *, note: str | None = None) -> APIStatusError:
    problem = problem_of(response)
    code = problem.get("code") if isinstance(problem.get("code"), str) else None
    detail = problem.get("detail")
    if not isinstance(detail, str):
        # Not a problem document (a proxy in between, say): a short, plain description.
        detail = f"HTTP {response.status_code} {response.reason_phrase}".strip()
        text = response.text.strip()
        if text:
            detail += f": {text[:_MAX_FOREIGN_DETAIL]}"
    if note:
        detail = f"{detail} ({note})"
    raw_errors = problem.get("errors")
    errors = [
        FieldError.model_validate(item)
        for item in (raw_errors if isinstance(raw_errors, list) else [])
        if isinstance(item, dict)
    ]
    request_id = problem.get("request_id") or response.headers.get("x-request-id")
    title = problem.get("title")
    return error_class(response.status_code, code)(
        detail,
        status=response.status_code,
        code=code,
        title=title if isinstance(title, str) else None,
        request_id=request_id if isinstance(request_id, str) else None,
        errors=errors,
        response=response,
    )
