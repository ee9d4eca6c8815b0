"""The parts that need no server: error mapping, retry timing, models, options."""

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
import threads_api_client as sdk
from threads_api_client import (
    APIStatusError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    RateLimitError,
    ServiceUnavailableError,
    Thread,
    ThreadClosedError,
    ThreadsClient,
    ThreadsClientError,
    ValidationError,
)
from threads_api_client._exceptions import error_from_response
from threads_api_client._retry import (
    INITIAL_DELAY,
    MAX_DELAY,
    parse_retry_after,
    retry_delay,
    should_retry,
)
from threads_api_client.resources._resource import body

THREAD = {
    "id": "thr_01M8E3VWVJA14JCX70NQ2YYY8G",
    "object": "thread",
    "space_id": "spc_01M8E3VWRTHZ45TEK83A2HR0NJ",
    "title": "t",
    "status": "open",
    "metadata": {},
    "message_count": 1,
    "last_message_at": "2026-11-27T09:02:31.794881Z",
    "created_at": "2026-11-27T09:02:31.794881Z",
    "updated_at": "2026-11-27T09:02:31.794881Z",
    "archived_at": None,
}


def _problem(status: int, code: str, **extra: object) -> httpx.Response:
    problem = {"status": status, "code": code, "detail": "d", "request_id": "r1", **extra}
    return httpx.Response(status, json=problem)


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (409, "thread_closed", ThreadClosedError),
        (409, "some_new_conflict", ConflictError),
        (404, "space_not_found", NotFoundError),
        (422, "idempotency_key_reused", sdk.IdempotencyKeyReusedError),
        (422, "brand_new_rule", ValidationError),
        (410, "event_purged", sdk.EventPurgedError),
        (410, "events_expired", sdk.GoneError),
        (429, "too_many_streams", RateLimitError),
        (503, "server_busy", ServiceUnavailableError),
        (502, "bad_gateway", InternalServerError),
        (418, "teapot", APIStatusError),
        # A code under a status it does not belong to: the status decides.
        (400, "thread_closed", sdk.BadRequestError),
    ],
)
def test_errors_are_chosen_by_code_then_status(status: int, code: str, expected: type) -> None:
    error = error_from_response(_problem(status, code))
    assert type(error) is expected
    assert (error.status, error.code, error.detail, error.request_id) == (status, code, "d", "r1")


def test_validation_errors_list_the_broken_rules() -> None:
    error = error_from_response(
        _problem(422, "validation_failed", errors=[{"loc": ["body", "content"], "message": "m"}])
    )
    assert isinstance(error, ValidationError)
    assert [(e.loc, e.message) for e in error.errors] == [(["body", "content"], "m")]


def test_an_answer_that_is_not_a_problem_still_makes_an_error() -> None:
    error = error_from_response(httpx.Response(502, text="<html>Bad gateway</html>"))
    assert isinstance(error, InternalServerError)
    assert error.code is None and "502" in str(error)


def test_every_exception_is_exported_from_the_package_root() -> None:
    from threads_api_client import _exceptions

    for name in dir(_exceptions):
        value = getattr(_exceptions, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert getattr(sdk, name) is value


def test_retry_on_not_now_answers_only() -> None:
    assert should_retry(_problem(503, "database_unavailable"))
    assert should_retry(_problem(429, "anything"))
    assert should_retry(_problem(409, "idempotency_in_flight"))
    assert not should_retry(_problem(409, "thread_closed"))
    for status in (400, 401, 403, 404, 412, 422, 500):
        assert not should_retry(_problem(status, "x"))


def test_retry_after_is_honoured() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=5)), now=now) == 5.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    assert retry_delay(0, "2") == 2.0
    assert retry_delay(5, "0") == 0.0


def test_backoff_grows_with_jitter_and_a_cap() -> None:
    for retries in range(8):
        ceiling = min(INITIAL_DELAY * 2**retries, MAX_DELAY)
        delays = {retry_delay(retries) for _ in range(50)}
        assert all(0.75 * ceiling <= delay <= ceiling for delay in delays)
        assert len(delays) > 1
    # A Retry-After beyond reason (an hour) is not waited for: backoff instead.
    assert retry_delay(0, "3600") <= INITIAL_DELAY


def test_models_keep_fields_from_a_newer_server() -> None:
    thread = Thread.model_validate({**THREAD, "priority": "high", "status": "snoozed"})
    assert thread.model_extra == {"priority": "high"}
    assert thread.status == "snoozed" and thread.last_message is None
    assert thread.response.status_code == 0 and thread.etag is None


def test_a_client_needs_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("THREADS_API_KEY", raising=False)
    with pytest.raises(ThreadsClientError, match="THREADS_API_KEY"):
        ThreadsClient()
    monkeypatch.setenv("THREADS_API_KEY", "tk_from_env")
    monkeypatch.setenv("THREADS_API_URL", "http://example.test:8123")
    with ThreadsClient() as client:
        assert client.base_url == "http://example.test:8123"
        assert "tk_from_env" not in repr(client)


def test_updates_leave_out_what_was_not_given() -> None:
    assert body(title=sdk.NOT_GIVEN, metadata=None, status="open") == {
        "metadata": None,
        "status": "open",
    }
    assert not sdk.NOT_GIVEN and repr(sdk.NOT_GIVEN) == "NOT_GIVEN"
