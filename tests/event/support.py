"""Reading Server-Sent Events in tests, and arranging the changes they report."""

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

WAIT_SECONDS = 20.0  # generous: a bound for a hang, not a timing assertion


@dataclass
class SseEvent:
    id: str | None
    event: str | None
    data: str

    @property
    def json(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.data)
        return parsed

    @property
    def position(self) -> int:
        assert self.id is not None
        return int(self.id)


def parse(lines: list[str]) -> SseEvent | None:
    """One SSE message from its lines; None for a comment-only block."""
    fields: dict[str, list[str]] = {}
    for line in lines:
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        fields.setdefault(name, []).append(value.removeprefix(" "))
    if not fields:
        return None
    return SseEvent(
        (fields.get("id") or [None])[-1],
        (fields.get("event") or [None])[-1],
        "\n".join(fields.get("data", [])),
    )


@dataclass
class Listener:
    """An open stream, read in the background into `events`, until it ends."""

    response: httpx.Response
    events: list[SseEvent] = field(default_factory=list)
    comments: int = 0
    ended: bool = False
    _task: asyncio.Task[None] | None = None

    async def _read(self) -> None:
        block: list[str] = []
        try:
            async for line in self.response.aiter_lines():
                if line:
                    block.append(line)
                    continue
                parsed = parse(block)
                if parsed is None:
                    self.comments += 1
                else:
                    self.events.append(parsed)
                block = []
        except httpx.HTTPError:
            pass
        self.ended = True

    @property
    def changes(self) -> list[SseEvent]:
        """The events, without a final `stream.reset`."""
        return [e for e in self.events if e.event != "stream.reset"]

    async def until(self, done: Callable[["Listener"], bool], seconds: float = WAIT_SECONDS):
        deadline = asyncio.get_running_loop().time() + seconds
        while not done(self):
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"stream did not get there: {self.events[-5:]}")
            await asyncio.sleep(0.02)

    async def count(self, n: int) -> list[SseEvent]:
        await self.until(lambda s: len(s.changes) >= n)
        return self.changes

    async def end(self) -> None:
        await self.until(lambda s: s.ended)


@contextlib.asynccontextmanager
async def listening(
    http: httpx.AsyncClient, space_id: str, *, params: Any = None, headers: Any = None
):
    """Open a stream and wait until it is open (its first comment arrived)."""
    request = http.build_request(
        "GET", f"/v1/spaces/{space_id}/events/stream", params=params, headers=headers
    )
    response = await http.send(request, stream=True)
    listener = Listener(response)
    try:
        assert response.status_code == 200, (await response.aread()).decode()
        listener._task = asyncio.create_task(listener._read())
        await listener.until(lambda s: s.comments >= 1 or s.events != [] or s.ended)
        yield listener
    finally:
        if listener._task is not None:
            listener._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener._task
        await response.aclose()


async def post_messages(http: httpx.AsyncClient, thread: dict[str, Any], n: int) -> list[str]:
    ids = []
    for i in range(n):
        response = await http.post(
            f"/v1/spaces/{thread['space_id']}/threads/{thread['id']}/messages",
            json={"content": f"message {i}"},
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


async def all_events(http: httpx.AsyncClient, space_id: str, **params: Any) -> list[dict[str, Any]]:
    """Every event of a space through the list, page by page."""
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, "limit": 200, **({"cursor": cursor} if cursor else {})}
        response = await http.get(f"/v1/spaces/{space_id}/events", params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        found += body["data"]
        cursor = body["next_cursor"]
        if not body["has_more"]:
            return found
