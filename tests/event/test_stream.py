"""The event stream (contract §14): Server-Sent Events, live and resumed, over a real server."""

from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.event.live import Live
from tests.event.support import all_events, listening, post_messages
from tests.helpers import problem
from threads_api.event import sse
from threads_api.event.service import StoredEvent
from threads_api.state import app_state


@pytest.fixture
def settings_overrides(fast_streams: dict[str, Any]) -> dict[str, Any]:
    return fast_streams


async def test_a_stream_without_a_position_starts_live(live: Live) -> None:
    space = await live.api.space()
    thread = await live.api.thread(space["id"], "before the stream")
    async with listening(live.http, space["id"]) as stream:
        assert stream.response.headers["content-type"].startswith("text/event-stream")
        assert stream.response.headers["cache-control"] == "no-cache"
        assert stream.response.headers["x-accel-buffering"] == "no"
        ids = await post_messages(live.http, thread, 3)
        events = await stream.count(3)
    assert [e.event for e in events] == ["message.created"] * 3
    assert [e.json["data"]["id"] for e in events] == ids
    listed = await all_events(live.http, space["id"])
    assert [e.json for e in events] == listed[-3:]
    assert [e.position for e in events] == [e["position"] for e in listed[-3:]]


async def test_resuming_from_last_event_id_sends_exactly_the_missed_events(live: Live) -> None:
    space = await live.api.space()
    thread = await live.api.thread(space["id"], "first")
    async with listening(live.http, space["id"], params={"after": 0}) as stream:
        first = await stream.count(2)
    last_seen = first[-1].id
    missed = await post_messages(live.http, thread, 4)  # while disconnected

    headers = {"Last-Event-ID": last_seen}
    async with listening(live.http, space["id"], headers=headers) as resumed:
        live_ones = await post_messages(live.http, thread, 2)
        events = await resumed.count(6)
        await resumed.until(lambda s: s.comments >= 3)  # heartbeats, and nothing more came
    assert len(resumed.changes) == 6
    assert [e.json["data"]["id"] for e in events] == missed + live_ones
    positions = [e.position for e in events]
    assert positions == sorted(set(positions)) and positions[0] > int(last_seen)


async def test_after_resumes_like_last_event_id_and_filters_apply(live: Live) -> None:
    space = await live.api.space()
    one = await live.api.thread(space["id"], "one")
    other = await live.api.thread(space["id"], "other")
    params = {"after": 0, "thread_id": one["id"], "types": "message.created"}
    async with listening(live.http, space["id"], params=params) as stream:
        await post_messages(live.http, other, 2)
        mine = await post_messages(live.http, one, 2)
        events = await stream.count(3)
    assert [e.json["data"]["content"] for e in events] == ["one", "message 0", "message 1"]
    assert [e.json["data"]["id"] for e in events[1:]] == mine


async def test_a_heartbeat_comment_keeps_an_idle_stream_open(live: Live) -> None:
    space = await live.api.space()
    async with listening(live.http, space["id"]) as stream:
        await stream.until(lambda s: s.comments >= 4)
        assert stream.events == []


async def test_events_expired_is_410_before_the_stream_starts(live: Live) -> None:
    space = await live.api.space()
    thread = await live.api.thread(space["id"], "old")
    async with app_state(live.app).database.writer() as session, session.begin():
        await session.execute(
            text("UPDATE event_counters SET purged_through = 2 WHERE space_id = :s"),
            {"s": space["id"]},
        )
    url = f"/v1/spaces/{space['id']}/events/stream"
    problem(await live.http.get(url, params={"after": 1}), 410, "events_expired")
    problem(await live.http.get(url, headers={"Last-Event-ID": "0"}), 410, "events_expired")
    async with listening(live.http, space["id"], params={"after": 2}) as stream:
        await post_messages(live.http, thread, 1)
        assert len(await stream.count(1)) == 1


async def test_a_bad_last_event_id_is_422(live: Live) -> None:
    space = await live.api.space()
    url = f"/v1/spaces/{space['id']}/events/stream"
    for value in ("x", "-1", "1.5", str(2**64)):
        problem(await live.http.get(url, headers={"Last-Event-ID": value}), 422)


class TestLimits:
    @pytest.fixture
    def settings_overrides(self, fast_streams: dict[str, Any]) -> dict[str, Any]:
        return {**fast_streams, "max_streams_per_key": 2, "stream_max_seconds": 1.5}

    async def test_the_cap_per_key_is_429_and_counts_long_polls(self, live: Live) -> None:
        space = await live.api.space()
        thread = await live.api.thread(space["id"], "capped")
        key = await live.api.key(["read"], [space["id"]])
        headers = {"X-API-Key": key}
        stream_url = f"/v1/spaces/{space['id']}/events/stream"
        poll_url = f"/v1/spaces/{space['id']}/threads/{thread['id']}/messages"
        async with listening(live.http, space["id"], headers=headers):
            async with listening(live.http, space["id"], headers=headers):
                refused = await live.http.get(stream_url, headers=headers)
                problem(refused, 429, "too_many_streams")
                assert refused.headers["retry-after"].isdigit()
                poll = await live.http.get(
                    poll_url, params={"after_seq": 1, "wait": 5}, headers=headers
                )
                problem(poll, 429, "too_many_streams")
                # A poll that need not wait is not counted; another key is not capped.
                assert (await live.http.get(poll_url, headers=headers)).status_code == 200
                assert (await live.http.get(poll_url, params={"wait": 5})).status_code == 200
            async with listening(live.http, space["id"], headers=headers) as again:
                assert again.response.status_code == 200

    async def test_a_stream_ends_with_stream_reset_at_its_maximum_life(self, live: Live) -> None:
        space = await live.api.space()
        thread = await live.api.thread(space["id"], "short-lived")
        async with listening(live.http, space["id"]) as stream:
            await post_messages(live.http, thread, 1)
            await stream.end()
        assert [e.event for e in stream.events] == ["message.created", "stream.reset"]
        reset = stream.events[-1]
        assert reset.json == {"reason": "max_lifetime", "resume_after": stream.events[0].position}
        assert reset.id == stream.events[0].id


async def test_a_revoked_keys_stream_is_closed(live: Live) -> None:
    space = await live.api.space()
    thread = await live.api.thread(space["id"], "revoked")
    created = await live.http.post(
        "/v1/api-keys", json={"name": "k", "scopes": ["read"], "space_ids": [space["id"]]}
    )
    key = created.json()
    async with listening(live.http, space["id"], headers={"X-API-Key": key["secret"]}) as stream:
        await post_messages(live.http, thread, 1)
        await stream.count(1)
        assert (await live.http.delete(f"/v1/api-keys/{key['id']}")).status_code == 200
        await stream.end()
    assert [e.event for e in stream.events] == ["message.created"]  # no invitation to resume


async def test_shutdown_ends_streams_with_stream_reset(live: Live) -> None:
    space = await live.api.space()
    thread = await live.api.thread(space["id"], "shutdown")
    async with listening(live.http, space["id"]) as stream:
        await post_messages(live.http, thread, 1)
        await stream.count(1)
        await live.stop()
        await stream.end()
    assert stream.events[-1].event == "stream.reset"
    assert stream.events[-1].json["reason"] == "shutdown"


async def test_head_of_the_stream_answers_its_headers_and_ends(live: Live) -> None:
    space = await live.api.space()
    url = f"/v1/spaces/{space['id']}/events/stream"
    head = await live.http.head(url)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"].startswith("text/event-stream")
    assert (await live.http.get(f"/v1/spaces/{space['id']}")).status_code == 200  # same client


async def test_without_credentials_the_stream_is_401(live: Live) -> None:
    space = await live.api.space()
    url = f"/v1/spaces/{space['id']}/events/stream"
    async with httpx.AsyncClient(base_url=live.url, timeout=10) as anonymous:
        problem(await anonymous.get(url), 401)
        problem(await anonymous.get(url, params={"token": "st_not_a_token"}), 401)


async def test_each_event_is_encoded_once_for_every_subscriber(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoded: list[int] = []
    original = sse.frame

    def counting(event: StoredEvent) -> bytes:
        encoded.append(event.position)
        return original(event)

    monkeypatch.setattr(sse, "frame", counting)
    space = await live.api.space()
    thread = await live.api.thread(space["id"], "shared")
    async with (
        listening(live.http, space["id"]) as one,
        listening(live.http, space["id"]) as two,
        listening(live.http, space["id"], params={"types": "message.created"}) as three,
    ):
        await post_messages(live.http, thread, 3)
        for stream in (one, two, three):
            await stream.count(3)
    assert len(encoded) == 3 and len(set(encoded)) == 3
