"""The error tree and the one renderer of RFC 9457 problem documents.

Every error a request can meet is a ThreadsError. The generic kinds are here; a domain's own
kinds live beside it, in the module named on the right (a test keeps this tree complete):

ThreadsError                    500  internal_error
 + BadRequest                   400  bad_request
 |  + MalformedJson                  malformed_json
 |  + InvalidCursor                  invalid_cursor
 |  + InvalidIdempotencyKey          invalid_idempotency_key       idempotency/errors.py
 |  + CorsPreflightRejected          cors_preflight_rejected       cors.py
 + Unauthorized                 401  unauthorized
 + Forbidden                    403  forbidden
 + NotFound                     404  not_found
 |  + SpaceNotFound                  space_not_found               space/errors.py
 |  + ThreadNotFound                 thread_not_found              thread/errors.py
 |  + MessageNotFound                message_not_found             message/errors.py
 |  + ApiKeyNotFound                 api_key_not_found             api_key/errors.py
 |  + WebhookNotFound                webhook_not_found             webhook/errors.py
 |  + DeliveryNotFound               webhook_delivery_not_found    webhook/errors.py
 + MethodNotAllowed             405  method_not_allowed
 + Conflict                     409  conflict
 |  + ThreadClosed                   thread_closed                 thread/errors.py
 |  + MessageDeleted                 message_deleted               message/errors.py
 |  + IdempotencyInFlight            idempotency_in_flight         idempotency/errors.py
 + Gone                         410  gone
 |  + EventsExpired                  events_expired                event/errors.py
 |  + EventPurged                    event_purged                  webhook/errors.py
 + PreconditionFailed           412  precondition_failed
 + PayloadTooLarge              413  payload_too_large
 + UnsupportedMediaType         415  unsupported_media_type
 + Unprocessable                422  validation_failed
 |  + UnknownSpace                   unknown_space                 api_key/errors.py
 |  + IdempotencyKeyReused           idempotency_key_reused        idempotency/errors.py
 + TooManyRequests              429  too_many_requests
 |  + TooManyStreams                 too_many_streams              event/errors.py
 + RequestHeadersTooLarge       431  request_header_fields_too_large
 + InternalError                500  internal_error
 + ServiceUnavailable           503  database_unavailable
 + ServerBusy                   503  server_busy

Each class is the kind of error: its `code` and `type` never change. The `detail` is written
by whoever raises it and never carries client input, SQL or a secret. Those that carry
`Retry-After` say so with `retry_after`.

Two exceptions stop the service from starting and never reach a client: UnsafeDurability
(db.py) and SchemaNotReady (migrate.py). Two end a webhook attempt and become its `error`
in the deliveries log, never a response: RefusedAddress (webhook/address.py) and
InvalidResponse (webhook/sender.py). One tells a write unit that PostgreSQL's lock wait ran
out, for it to answer 409: LockTimeout (writes.py).
"""

from typing import Any, ClassVar

PROBLEM_CONTENT_TYPE = "application/problem+json"
# What a client waits, in seconds, before retrying what passes soon: a database outage, a full
# server, a request whose Idempotency-Key is still in flight (the `Retry-After` header).
RETRY_AFTER_SECONDS = 1


class ThreadsError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    title: ClassVar[str] = "Internal server error"
    # Set on the kinds of error that pass: every one of them then carries `Retry-After`.
    retry_after: ClassVar[int | None] = None

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.detail = detail or self.title
        self.errors = errors
        self.headers = dict(headers or {})
        if self.retry_after is not None:
            self.headers.setdefault("Retry-After", str(self.retry_after))
        super().__init__(self.detail)

    @classmethod
    def type_uri(cls) -> str:
        return f"urn:threads-api:problem:{cls.code}"

    def to_problem(self, request_id: str) -> dict[str, Any]:
        problem: dict[str, Any] = {
            "type": self.type_uri(),
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
            "request_id": request_id,
        }
        if self.errors is not None:
            problem["errors"] = self.errors
        return problem


class BadRequest(ThreadsError):
    status = 400
    code = "bad_request"
    title = "Bad request"


class MalformedJson(BadRequest):
    code = "malformed_json"
    title = "Malformed JSON body"


class InvalidCursor(BadRequest):
    code = "invalid_cursor"
    title = "Invalid cursor"


class Unauthorized(ThreadsError):
    status = 401
    code = "unauthorized"
    title = "Missing or invalid API key"


class Forbidden(ThreadsError):
    status = 403
    code = "forbidden"
    title = "The API key lacks the scope for this request"


class NotFound(ThreadsError):
    status = 404
    code = "not_found"
    title = "Not found"


class MethodNotAllowed(ThreadsError):
    status = 405
    code = "method_not_allowed"
    title = "Method not allowed"


class Conflict(ThreadsError):
    status = 409
    code = "conflict"
    title = "Conflict"


class Gone(ThreadsError):
    status = 410
    code = "gone"
    title = "Gone"


class PreconditionFailed(ThreadsError):
    status = 412
    code = "precondition_failed"
    title = "Precondition failed"


class PayloadTooLarge(ThreadsError):
    status = 413
    code = "payload_too_large"
    title = "Request body too large"


class UnsupportedMediaType(ThreadsError):
    status = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"


class Unprocessable(ThreadsError):
    status = 422
    code = "validation_failed"
    title = "The request breaks a rule"


class TooManyRequests(ThreadsError):
    status = 429
    code = "too_many_requests"
    title = "Too many requests"


class RequestHeadersTooLarge(ThreadsError):
    """Sent by the server (threads_api.server), before the application sees the request."""

    status = 431
    code = "request_header_fields_too_large"
    title = "Request headers too large"


class InternalError(ThreadsError):
    pass


class ServiceUnavailable(ThreadsError):
    status = 503
    code = "database_unavailable"
    title = "The database is unavailable"
    retry_after = RETRY_AFTER_SECONDS


class ServerBusy(ThreadsError):
    """Sent by the server (threads_api.server) to a connection past its connection limit."""

    status = 503
    code = "server_busy"
    title = "The server is at its connection limit"
    retry_after = RETRY_AFTER_SECONDS


def error_responses(*errors: type[ThreadsError]) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route: every status it can answer, each with the problem schema
    and the `code`s it can carry (`x-problem-codes`, and one description line per code)."""
    by_status: dict[int, dict[str, str]] = {}
    for error in errors:
        by_status.setdefault(error.status, {})[error.code] = error.title
    return {
        status: {
            "description": "\n".join(f"- `{code}`: {kinds[code]}" for code in sorted(kinds)),
            "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            "x-problem-codes": sorted(kinds),
        }
        for status, kinds in sorted(by_status.items())
    }
