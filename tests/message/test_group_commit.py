"""SQLite group commit (ADR 0012): message creates that queue while the writer is busy share
its next transaction and one COMMIT, each in its own savepoint: one request's error rolls
back only its own work, a duplicate in the same group replays, seqs stay dense."""

import asyncio
import threading
from typing import Any

import httpx
import pytest

from tests.helpers import Api, problem
from threads_api.reads import Statement, Unit
from threads_api.state import app_state

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

_SELECT_1 = Statement(sqlite="SELECT 1", postgres="SELECT 1")


def _hold_the_writer(inside: threading.Event, release: threading.Event) -> Unit[None]:
    """A unit that keeps the writer thread busy until `release`."""
    inside.set()
    release.wait(30)
    yield _SELECT_1, ()


async def _until(condition: Any) -> None:
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out")


async def test_queued_creates_share_one_commit_and_fail_alone(
    app: Any, client: httpx.AsyncClient, api: Api
) -> None:
    space = (await api.space())["id"]
    thread = (await api.thread(space))["id"]
    closed = (await api.thread(space))["id"]
    assert (await client.delete(f"/v1/spaces/{space}/threads/{closed}")).status_code == 200
    messages = f"/v1/spaces/{space}/threads/{thread}/messages"
    used = await client.post(messages, json={"content": "x"}, headers={"Idempotency-Key": "b"})
    assert used.status_code == 201

    writes = app_state(app).database.writes
    inside, release = threading.Event(), threading.Event()
    holder = asyncio.create_task(writes.run(_hold_the_writer, inside, release))
    await asyncio.to_thread(inside.wait, 10)
    commits, units = writes.group_commits

    def post(path: str, body: dict[str, Any], key: str | None = None) -> Any:
        headers = {} if key is None else {"Idempotency-Key": key}
        return asyncio.create_task(client.post(path, json=body, headers=headers))

    group = {
        "first": post(messages, {"content": "one"}, key="a"),
        "duplicate": post(messages, {"content": "one"}, key="a"),
        "reused": post(messages, {"content": "y"}, key="b"),
        "closed": post(f"/v1/spaces/{space}/threads/{closed}/messages", {"content": "z"}, "c"),
        "missing": post(f"/v1/spaces/{space}/threads/thr_{'0' * 26}/messages", {"content": "z"}),
        "started": post(f"/v1/spaces/{space}/threads/messages", {"content": "new"}, key="d"),
        **{f"plain {i}": post(messages, {"content": f"m{i}"}) for i in range(4)},
    }
    await _until(lambda: writes.waiting == len(group))
    release.set()
    await holder
    answers = {name: await task for name, task in group.items()}

    # One transaction for the holder, one for the whole group.
    assert writes.group_commits == (commits + 2, units + 1 + len(group))
    first, duplicate = answers["first"], answers["duplicate"]
    assert (first.status_code, duplicate.status_code) == (201, 201)
    assert first.content == duplicate.content
    assert sorted(r.headers.get("Idempotent-Replayed", "") for r in (first, duplicate)) == [
        "",
        "true",
    ]
    problem(answers["reused"], 422, "idempotency_key_reused")
    problem(answers["closed"], 409, "thread_closed")
    problem(answers["missing"], 404, "thread_not_found")
    assert answers["started"].status_code == 201
    created = [answers[name].json()["seq"] for name in group if name.startswith("plain")]
    created.append(first.json()["seq"])
    # Seq 1 and 2 were there before: the group's messages follow them, densely.
    assert sorted(created) == list(range(3, 3 + len(created)))
    listed = (await client.get(messages, params={"limit": 100})).json()["data"]
    assert [m["seq"] for m in listed] == list(range(1, 3 + len(created)))

    # The request rolled back alone left no claim of its key: reopened, the thread takes the
    # same request as new.
    reopened = await client.patch(
        f"/v1/spaces/{space}/threads/{closed}",
        json={"status": "open"},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert reopened.status_code == 200, reopened.text
    retried = await client.post(
        f"/v1/spaces/{space}/threads/{closed}/messages",
        json={"content": "z"},
        headers={"Idempotency-Key": "c"},
    )
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried.headers


async def test_a_write_waiting_alone_commits_alone(app: Any, api: Api) -> None:
    space = (await api.space())["id"]
    thread = (await api.thread(space))["id"]
    writes = app_state(app).database.writes
    commits, units = writes.group_commits
    for _ in range(3):
        await api.message(space, thread)
    assert writes.group_commits == (commits + 3, units + 3)
