"""A subscriber that stops reading is not silently skipped, and holds up nobody (contract
§14): its stream ends with `stream.reset` while the others get every event."""

import asyncio
import socket
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.event.live import Live
from tests.event.support import all_events, listening, parse
from tests.helpers import ADMIN_SECRET

BUFFER_BYTES = 64 * 1024
MESSAGES = 40
CONTENT = "x" * 30_000


@pytest.fixture
def settings_overrides(fast_streams: dict[str, Any]) -> dict[str, Any]:
    return {**fast_streams, "stream_buffer_bytes": BUFFER_BYTES}


def stalled_stream(url: str, space_id: str) -> socket.socket:
    """A raw connection with a tiny receive buffer, which asks for the stream and then reads
    nothing."""
    parts = urlsplit(url)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((parts.hostname, parts.port))
    sock.sendall(
        f"GET /v1/spaces/{space_id}/events/stream HTTP/1.1\r\nHost: test\r\n"
        f"X-API-Key: {ADMIN_SECRET}\r\n\r\n".encode()
    )
    return sock


def read_to_the_end(sock: socket.socket) -> bytes:
    sock.settimeout(30)
    received = []
    while chunk := sock.recv(65536):
        received.append(chunk)
    sock.close()
    return b"".join(received)


def dechunk(body: bytes) -> tuple[bytes, bool]:
    """The payload of a chunked body, and whether it ended properly (a last, empty chunk)."""
    payload = []
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            return b"".join(payload), True
        payload.append(rest[:size])
        body = rest[size + 2 :]
    return b"".join(payload), False


async def test_a_stalled_subscriber_gets_stream_reset_and_the_others_keep_up(
    live: Live,
) -> None:
    space = await live.api.space()
    thread = await live.api.thread(space["id"], "busy")
    stalled = stalled_stream(live.url, space["id"])
    async with listening(live.http, space["id"]) as keeping_up:
        for _ in range(MESSAGES):
            response = await live.http.post(
                f"/v1/spaces/{space['id']}/threads/{thread['id']}/messages",
                json={"content": CONTENT},
            )
            assert response.status_code == 201
        everything = await keeping_up.count(MESSAGES)
        assert keeping_up.events == everything  # no reset for the one that reads

        raw = await asyncio.to_thread(read_to_the_end, stalled)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"transfer-encoding: chunked" in head.lower()
    payload, complete = dechunk(body)
    assert complete, "the stream must end as a whole response, not be cut"
    blocks = [parse(block.decode().split("\n")) for block in payload.split(b"\n\n") if block]
    got = [event for event in blocks if event is not None]

    assert got[-1].event == "stream.reset"
    events = got[:-1]
    assert 0 < len(events) < MESSAGES, "the subscriber was neither slow nor stopped"
    # Everything it got, it got in order and without a gap: a prefix of what happened.
    assert [e.json for e in events] == [e.json for e in everything[: len(events)]]
    assert got[-1].json == {"reason": "slow_subscriber", "resume_after": events[-1].position}
    assert got[-1].id == events[-1].id
    listed = await all_events(live.http, space["id"])
    assert listed[-MESSAGES:] == [e.json for e in everything]
