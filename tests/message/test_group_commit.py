"""SQLite group commit (ADR 0012): message creates that queue while the writer is busy share
its next transaction and one COMMIT, each in its own savepoint: one request's error rolls
back only its own work, a duplicate in the same group replays, seqs stay dense."""

import asyncio
import sqlite3
from typing import Any

import httpx
import pytest

from tests.helpers import Api, problem
from threads_api.reads import sqlite_path
from threads_api.state import app_state

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


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

    state = app_state(app)
    writes = state.database.writes
    # Another connection holds the write lock: the writer waits for it on its thread, while
    # the requests queue behind it.
    holder = sqlite3.connect(sqlite_path(state.settings), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
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
    holder.execute("COMMIT")
    holder.close()
    answers = {name: await task for name, task in group.items()}

    # One transaction for the whole group.
    assert writes.group_commits == (commits + 1, units + len(group))
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
