"""client.events (the change feed) and the long-poll of messages.list, against a real server
on each database; dropped streams and `stream.reset` come from the test proxy."""

import threading
import time
from collections.abc import Callable

import httpx
import pytest
from sdk_proxy import FaultProxy
from sdk_servers import ADMIN_KEY, Server
from threads_api_client import (
    AsyncThreadsClient,
    Event,
    NotFoundError,
    Space,
    ThreadsClient,
    ValidationError,
)
from threads_api_client._sse import SSEDecoder

ProxyFactory = Callable[[], FaultProxy]


def _decode(text: str) -> list[tuple[str, str, str | None]]:
    decoder = SSEDecoder()
    found = [decoder.decode(line) for line in text.splitlines()]
    return [(sse.event, sse.data, sse.id) for sse in found if sse is not None]


def test_sse_decoding_follows_the_standard() -> None:
    text = (
        ": stream open\n\n"
        'id: 7\nevent: message.created\ndata: {"a":\ndata:  1}\n\n'  # data lines join
        "data:plain\nretry: 1500\nunknown: field\n\n"  # "message", and the id carries on
        "id\nevent: x\ndata\n\n"  # an empty id resets it; a field without a colon is empty
        "event: no.data\n\n"  # no data: nothing dispatched
        "id: 9\ndata: unfinished"  # the end of the stream discards it
    )
    assert _decode(text) == [
        ("message.created", '{"a":\n 1}', "7"),
        ("message", "plain", "7"),
        ("x", "", ""),
    ]
    decoder = SSEDecoder()
    for line in "retry: 1500\nretry: soon\n".splitlines():
        decoder.decode(line)
    assert decoder.retry_ms == 1500


def _changes(client: ThreadsClient, space: Space) -> tuple[str, str]:
    """thread.created + message.created on one thread, message.created + thread.updated
    on another; returns the two thread ids."""
    first = client.threads.create_with_message(space.id, content="one").thread
    second = client.threads.create_with_message(space.id, content="two").thread
    client.messages.create(space.id, first.id, content="three")
    client.threads.update(space.id, second.id, title="renamed")
    return first.id, second.id


@pytest.mark.slow
def test_list_with_filters_and_last_position(client: ThreadsClient, space: Space) -> None:
    first, second = _changes(client, space)
    pager = client.events.list(space.id, limit=2)
    events = list(pager)
    assert [e.type for e in events] == [
        "thread.created",
        "message.created",
        "thread.created",
        "message.created",
        "message.created",
        "thread.updated",
    ]
    positions = [e.position for e in events]
    assert positions == sorted(set(positions))
    assert pager.last_position == positions[-1]
    assert all(isinstance(e, Event) and e.space_id == space.id for e in events)
    assert events[-1].data["title"] == "renamed" and events[-1].object == "event"

    page = client.events.list(space.id, limit=2).first_page()
    assert page.has_more and page.last_position == positions[-1] and len(page) == 2

    created = client.events.list(space.id, types=["message.created"], thread_id=first)
    assert [e.data["content"] for e in created] == ["one", "three"]
    later = client.events.list(space.id, after=positions[3], types="thread.updated")
    assert [(e.type, e.thread_id) for e in later] == [("thread.updated", second)]
    assert list(client.events.list(space.id, after=positions[-1])) == []
    with pytest.raises(ValidationError):
        list(client.events.list(space.id, types=["thread.exploded"]))


@pytest.mark.slow
def test_a_stream_token(client: ThreadsClient, space: Space) -> None:
    token = client.events.create_stream_token(space.id)
    assert token.token and token.expires_at


@pytest.mark.slow
def test_a_stream_yields_the_events_posted_after_it_opened_in_order(
    client: ThreadsClient, space: Space
) -> None:
    thread = client.threads.create_with_message(space.id, content="before").thread
    events = client.events.stream(space.id, types=["message.created"])

    def post_once_open() -> None:
        deadline = time.monotonic() + 30
        while events.last_position is None and time.monotonic() < deadline:
            time.sleep(0.01)  # the stream took its starting position
        for n in range(3):
            client.messages.create(space.id, thread.id, content=f"after {n}")

    poster = threading.Thread(target=post_once_open)
    poster.start()
    with events:
        got = [next(events) for _ in range(3)]
    poster.join()
    assert [e.data["content"] for e in got] == ["after 0", "after 1", "after 2"]
    assert events.last_position == got[-1].position
    assert got[0].position < got[1].position < got[2].position


def _through(proxy: FaultProxy) -> ThreadsClient:
    flaky = ThreadsClient(base_url=proxy.url, api_key=ADMIN_KEY)
    flaky._sleep = lambda seconds: None  # type: ignore[method-assign]
    return flaky


@pytest.mark.slow
def test_a_dropped_stream_resumes_with_exactly_the_missed_events(
    client: ThreadsClient, space: Space, proxy_factory: ProxyFactory
) -> None:
    start = client.events.list(space.id).first_page().last_position
    thread = client.threads.create_with_message(space.id, content="m0").thread
    for n in range(1, 5):
        client.messages.create(space.id, thread.id, content=f"m{n}")
    expected = list(client.events.list(space.id, after=start, types="message.created"))
    proxy = proxy_factory()
    proxy.cut_stream(2)  # the first connection breaks after two events …
    # … and the second asks the server for everything again: the client must skip repeats.
    proxy.cut_stream(None, last_event_id=str(start))
    with _through(proxy) as flaky:
        events = flaky.events.stream(space.id, after=start, types=["message.created"])
        got = [next(events) for _ in range(5)]
        events.close()

    assert [e.id for e in got] == [e.id for e in expected]
    assert [e.data["content"] for e in got] == ["m0", "m1", "m2", "m3", "m4"]
    asked = [request.headers.get("last-event-id") for request in proxy.seen("GET")]
    assert asked == [str(start), str(expected[1].position)]


@pytest.mark.slow
async def test_a_stream_reset_makes_the_async_stream_resume(
    client: ThreadsClient, space: Space, proxy_factory: ProxyFactory
) -> None:
    thread = client.threads.create_with_message(space.id, content="m0").thread
    client.messages.create(space.id, thread.id, content="m1")
    client.messages.create(space.id, thread.id, content="m2")
    proxy = proxy_factory()
    proxy.cut_stream(1, reset=True)
    async with AsyncThreadsClient(base_url=proxy.url, api_key=ADMIN_KEY) as flaky:

        async def no_wait(seconds: float) -> None:
            pass

        flaky._sleep = no_wait  # type: ignore[method-assign]
        async with flaky.events.stream(space.id, after=0) as events:
            got = [await anext(events) for _ in range(4)]

    assert [e.type for e in got] == ["thread.created"] + ["message.created"] * 3
    assert [e.data.get("content") for e in got[1:]] == ["m0", "m1", "m2"]
    asked = [request.headers.get("last-event-id") for request in proxy.seen("GET")]
    assert asked == ["0", str(got[0].position)]


@pytest.mark.slow
def test_a_stream_that_cannot_open_raises(client: ThreadsClient) -> None:
    with pytest.raises(NotFoundError):
        next(client.events.stream("spc_00000000000000000000000000", after=0))


@pytest.mark.slow
def test_a_long_poll_answers_when_a_message_arrives(
    client: ThreadsClient, space: Space, proxy_factory: ProxyFactory
) -> None:
    thread = client.threads.create_with_message(space.id, content="first").thread
    proxy = proxy_factory()

    def post_once_asked() -> None:
        deadline = time.monotonic() + 30
        while not proxy.seen("GET") and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)  # let the request reach the server and start waiting
        client.messages.create(space.id, thread.id, content="second")

    poster = threading.Thread(target=post_once_asked)
    poster.start()
    with ThreadsClient(base_url=proxy.url, api_key=ADMIN_KEY, max_retries=0) as polling:
        page = polling.messages.list(space.id, thread.id, after_seq=1, wait=20).first_page()
    poster.join()
    assert [(m.seq, m.content) for m in page] == [(2, "second")]
    assert "wait=20" in proxy.seen("GET")[0].target


@pytest.mark.slow
def test_the_read_timeout_of_a_long_poll_outlasts_its_wait(
    server: Server, space: Space, client: ThreadsClient
) -> None:
    thread = client.threads.create_with_message(space.id, content="only").thread
    with ThreadsClient(
        base_url=server.url, api_key=ADMIN_KEY, timeout=0.5, max_retries=0
    ) as impatient:
        page = impatient.messages.list(space.id, thread.id, after_seq=1, wait=1.5).first_page()
        assert list(page) == []
        # The same request without the SDK's longer read timeout times out.
        url = f"/v1/spaces/{space.id}/threads/{thread.id}/messages?after_seq=1&wait=1.5"
        with pytest.raises(httpx.ReadTimeout):
            impatient._http.get(url)
