"""The error tree and the one renderer of RFC 9457 problem documents.

ThreadsError
 + BadRequest             400  bad_request
 |  + MalformedJson            malformed_json
 |  + InvalidCursor            invalid_cursor
 |  + InvalidIdempotencyKey    invalid_idempotency_key
 + Unauthorized           401  unauthorized
 + Forbidden              403  forbidden
 + NotFound               404  not_found
 + MethodNotAllowed       405  method_not_allowed
 + Conflict               409  conflict
 |  + ThreadClosed             thread_closed
 |  + IdempotencyInFlight      idempotency_in_flight
 + PreconditionFailed     412  precondition_failed
 + PayloadTooLarge        413  payload_too_large
 + UnsupportedMediaType   415  unsupported_media_type
 + Unprocessable          422  validation_failed
 |  + IdempotencyKeyReused     idempotency_key_reused
 + InternalError          500  internal_error
 + ServiceUnavailable     503  database_unavailable

Each class is the kind of error: its `code` and `type` never change. The `detail` is written
by whoever raises it and never carries client input, SQL or a secret.
"""

from typing import Any, ClassVar

PROBLEM_CONTENT_TYPE = "application/problem+json"


class ThreadsError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    title: ClassVar[str] = "Internal server error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.detail = detail or self.title
        self.errors = errors
        self.headers = headers or {}
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


class InvalidIdempotencyKey(BadRequest):
    code = "invalid_idempotency_key"
    title = "Invalid Idempotency-Key header"


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


class ThreadClosed(Conflict):
    code = "thread_closed"
    title = "The thread does not accept new messages"


class IdempotencyInFlight(Conflict):
    code = "idempotency_in_flight"
    title = "A request with this Idempotency-Key is still being processed"


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


class IdempotencyKeyReused(Unprocessable):
    code = "idempotency_key_reused"
    title = "Idempotency-Key reused with a different request"


class InternalError(ThreadsError):
    pass


class ServiceUnavailable(ThreadsError):
    status = 503
    code = "database_unavailable"
    title = "The database is unavailable"


def error_responses(*errors: type[ThreadsError]) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route: every status it can answer, each with the problem schema."""
    by_status: dict[int, list[type[ThreadsError]]] = {}
    for error in errors:
        by_status.setdefault(error.status, []).append(error)
    return {
        status: {
            "description": " / ".join(sorted({e.title for e in kinds})),
            "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status, kinds in sorted(by_status.items())
    }
