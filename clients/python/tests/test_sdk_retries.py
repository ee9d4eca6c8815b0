"""Retries that never duplicate, proven against a real server behind a proxy that loses
answers (after the server committed), holds them past the timeout, or answers "not now"."""

from collections.abc import Callable

import pytest
from sdk_proxy import FaultProxy, problem_response
from sdk_servers import ADMIN_KEY, Server
from threads_api_client import (
    APIConnectionError,
    AsyncThreadsClient,
    IdempotencyKeyReusedError,
    PreconditionFailedError,
    SecretUnavailableError,
    ServiceUnavailableError,
    Space,
    ThreadClosedError,
    ThreadsClient,
    ValidationError,
)

pytestmark = pytest.mark.slow

ProxyFactory = Callable[[], FaultProxy]


def _via(proxy: FaultProxy, *, timeout: float = 30.0, max_retries: int = 2) -> ThreadsClient:
    """A client through the proxy that does not really wait between attempts."""
    client = ThreadsClient(
        base_url=proxy.url, api_key=ADMIN_KEY, timeout=timeout, max_retries=max_retries
    )
    client._sleep = lambda seconds: None  # type: ignore[method-assign]
    return client


def _keys(proxy: FaultProxy) -> list[str]:
    return [request.headers.get("idempotency-key", "") for request in proxy.seen("POST")]


def test_a_lost_answer_is_retried_and_creates_one_message(
    client: ThreadsClient, space: Space, proxy_factory: ProxyFactory
) -> None:
    thread = client.threads.create_with_message(space.id, content="first").thread
    proxy = proxy_factory()
    proxy.drop("POST")
    with _via(proxy) as flaky:
        message = flaky.messages.create(space.id, thread.id, content="only once")

    assert message.seq == 2
    assert message.response.idempotent_replayed is True
    assert message.response.retries == 1
    keys = _keys(proxy)
    assert len(keys) == 2 and keys[0] == keys[1] == message.response.idempotency_key
    contents = [m.content for m in client.messages.list(space.id, thread.id)]
    assert contents == ["first", "only once"]


def test_a_lost_answer_of_a_thread_start_creates_one_thread(
    client: ThreadsClient, space: Space, proxy_factory: ProxyFactory
) -> None:
    proxy = proxy_factory()
    proxy.drop("POST", times=2)
    with _via(proxy) as flaky:
        started = flaky.threads.create_with_message(space.id, content="hello", author="ann")

    assert started.response.idempotent_replayed is True
    assert started.response.retries == 2
    assert len(set(_keys(proxy))) == 1
    assert [t.id for t in client.threads.list(space.id)] == [started.thread.id]


async def test_the_async_client_retries_a_lost_answer_too(
    server: Server, client: ThreadsClient, space: Space, proxy_factory: ProxyFactory
) -> None:
    thread = client.threads.create_with_message(space.id, content="first").thread
    proxy = proxy_factory()
    proxy.drop("POST")
    async with AsyncThreadsClient(base_url=proxy.url, api_key=ADMIN_KEY) as flaky:
        message = await flaky.messages.create(space.id, thread.id, content="async once")

    assert message.response.idempotent_replayed is True
    assert len(set(_keys(proxy))) == 1 and len(_keys(proxy)) == 2
    assert [m.seq for m in client.messages.list(space.id, thread.id)] == [1, 2]


def test_an_answer_held_past_the_timeout_is_retried_without_a_duplicate(
    client: ThreadsClient, space: Space, proxy_factory: ProxyFactory
) -> None:
    thread = client.threads.create_with_message(space.id, content="first").thread
    proxy = proxy_factory()
    proxy.hold("POST", seconds=3)
    with _via(proxy, timeout=1.0) as slow:
        message = slow.messages.create(space.id, thread.id, content="late")

    assert message.response.idempotent_replayed is True
    assert [m.content for m in client.messages.list(space.id, thread.id)] == ["first", "late"]


def test_when_every_answer_is_lost_the_error_comes_after_the_retries_and_nothing_doubles(
    client: ThreadsClient, space: Space, proxy_factory: ProxyFactory
) -> None:
    thread = client.threads.create_with_message(space.id, content="first").thread
    proxy = proxy_factory()
    proxy.drop("POST", times=10)
    with _via(proxy, max_retries=3) as flaky, pytest.raises(APIConnectionError):
        flaky.messages.create(space.id, thread.id, content="lost")

    assert len(_keys(proxy)) == 4 and len(set(_keys(proxy))) == 1
    assert [m.content for m in client.messages.list(space.id, thread.id)] == ["first", "lost"]


@pytest.mark.parametrize(
    ("status", "reason", "code"),
    [
        (503, "Service Unavailable", "database_unavailable"),
        (503, "Service Unavailable", "server_busy"),
        (429, "Too Many Requests", "too_many_streams"),
        (409, "Conflict", "idempotency_in_flight"),
    ],
)
def test_not_now_answers_are_retried_after_retry_after(
    client: ThreadsClient,
    space: Space,
    proxy_factory: ProxyFactory,
    status: int,
    reason: str,
    code: str,
) -> None:
    proxy = proxy_factory()
    proxy.answer("POST", problem_response(status, reason, code, retry_after="7"), times=2)
    waits: list[float] = []
    with _via(proxy) as flaky:
        flaky._sleep = waits.append  # type: ignore[method-assign]
        started = flaky.threads.create_with_message(space.id, content="after a wait")

    assert waits == [7.0, 7.0]
    assert started.response.retries == 2
    assert started.response.idempotent_replayed is False
    assert len(_keys(proxy)) == 3 and len(set(_keys(proxy))) == 1
    assert [t.id for t in client.threads.list(space.id)] == [started.thread.id]


def test_retries_run_out(space: Space, proxy_factory: ProxyFactory) -> None:
    proxy = proxy_factory()
    proxy.answer("GET", problem_response(503, "Service Unavailable", "database_unavailable"), 9)
    with _via(proxy, max_retries=2) as flaky, pytest.raises(ServiceUnavailableError) as raised:
        flaky.spaces.retrieve(space.id)

    assert len(proxy.seen("GET")) == 3
    assert raised.value.status == 503 and raised.value.code == "database_unavailable"


def test_a_closed_thread_is_not_retried(
    client: ThreadsClient, space: Space, proxy_factory: ProxyFactory
) -> None:
    thread = client.threads.create_with_message(space.id, content="first").thread
    client.threads.update(space.id, thread.id, status="locked")
    proxy = proxy_factory()
    with _via(proxy) as direct, pytest.raises(ThreadClosedError) as raised:
        direct.messages.create(space.id, thread.id, content="anyone?")

    assert len(proxy.seen("POST")) == 1
    error = raised.value
    assert (error.status, error.code) == (409, "thread_closed")
    assert error.request_id and error.detail


def test_other_client_errors_are_not_retried(space: Space, proxy_factory: ProxyFactory) -> None:
    proxy = proxy_factory()
    with _via(proxy) as direct:
        with pytest.raises(ValidationError) as raised:
            direct.threads.create_with_message(space.id, content=" ")
        assert raised.value.errors and raised.value.errors[0].loc == ["body", "content"]
        direct.spaces.create(name="once", idempotency_key="sdk-reuse")
        with pytest.raises(IdempotencyKeyReusedError):
            direct.spaces.create(name="twice", idempotency_key="sdk-reuse")

    assert len(proxy.seen("POST")) == 3


def test_a_412_after_a_lost_answer_says_the_first_attempt_may_have_applied(
    client: ThreadsClient, space: Space, proxy_factory: ProxyFactory
) -> None:
    thread = client.threads.create_with_message(space.id, content="first").thread
    etag = client.threads.retrieve(space.id, thread.id).etag
    proxy = proxy_factory()
    proxy.drop("PATCH")
    with _via(proxy) as flaky, pytest.raises(PreconditionFailedError) as raised:
        flaky.threads.update(space.id, thread.id, title="renamed", if_match=etag)

    assert "may have been applied" in str(raised.value)
    assert client.threads.retrieve(space.id, thread.id).title == "renamed"


def test_a_key_whose_secret_was_lost_is_named_with_how_to_recover(
    client: ThreadsClient, space: Space, proxy_factory: ProxyFactory
) -> None:
    proxy = proxy_factory()
    proxy.drop("POST")
    with _via(proxy) as flaky, pytest.raises(SecretUnavailableError) as raised:
        flaky.api_keys.create(name="bot", scopes=["read"], space_ids=[space.id])

    error = raised.value
    assert error.key_id.startswith("key_") and error.api_key.name == "bot"
    assert error.key_id in str(error) and "revoke" in str(error).lower()
    assert "tk_" not in str(error)
    assert client.api_keys.retrieve(error.key_id).revoked_at is None
    assert client.api_keys.revoke(error.key_id).revoked_at is not None
