"""Idempotency keys over HTTP (contract §8, ADR 0003), on SQLite and on PostgreSQL."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import func, select

from tests.conftest import ADMIN_SECRET, Api, Server, _asyncpg_dsn
from threads_api.models import IdempotencyRecord

KEY = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
PROBLEM = "application/problem+json"


def messages_path(space_id: str, thread_id: str) -> str:
    return f"/v1/spaces/{space_id}/threads/{thread_id}/messages"


async def count(client: httpx.AsyncClient, list_path: str, secret: str = ADMIN_SECRET) -> int:
    """How many items a list endpoint shows (all tests stay far below one page)."""
    separator = "&" if "?" in list_path else "?"
    response = await client.get(f"{list_path}{separator}limit=200", headers={"X-API-Key": secret})
    assert response.status_code == 200, response.text
    assert response.json()["has_more"] is False
    return len(response.json()["data"])


async def post(
    client: httpx.AsyncClient,
    path: str,
    body: Any,
    key: str | bytes | None,
    *,
    secret: str = ADMIN_SECRET,
) -> httpx.Response:
    headers: dict[str, Any] = {"X-API-Key": secret}
    if key is not None:
        headers[KEY] = key
    if isinstance(body, str | bytes):
        headers["Content-Type"] = "application/json"
        return await client.post(path, content=body, headers=headers)
    return await client.post(path, json=body, headers=headers)


def assert_replay_of(replay: httpx.Response, original: httpx.Response) -> None:
    assert replay.status_code == original.status_code
    if original.json().get("object") == "api_key":
        # A new key's secret is shown once and never stored: its replay is the rest.
        assert replay.json() == {**original.json(), "secret": None}
    else:
        assert replay.content == original.content
    assert replay.headers.get("location") == original.headers.get("location")
    assert replay.headers["content-type"] == original.headers["content-type"]
    assert replay.headers.get(REPLAYED) == "true"


def assert_problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["code"] == code


@pytest.fixture
async def thread(api: Api) -> dict[str, Any]:
    space = await api.space()
    return await api.thread(space["id"])


@pytest.fixture
def path(thread: dict[str, Any]) -> str:
    return messages_path(thread["space_id"], thread["id"])


class TestReplay:
    async def test_replay_returns_the_stored_response_and_creates_nothing(
        self, client: httpx.AsyncClient, path: str
    ) -> None:
        body = {"content": "once", "author": "alice", "metadata": {"a": "1"}}
        original = await post(client, path, body, "k-1")
        assert original.status_code == 201, original.text
        assert REPLAYED not in original.headers
        assert original.headers["location"].endswith(original.json()["id"])

        for _ in range(2):
            assert_replay_of(await post(client, path, body, "k-1"), original)
        assert await count(client, path) == 2  # the thread's first message and this one

    async def test_without_a_key_every_request_creates(
        self, client: httpx.AsyncClient, path: str
    ) -> None:
        first = await post(client, path, {"content": "x"}, None)
        second = await post(client, path, {"content": "x"}, None)
        assert first.status_code == second.status_code == 201
        assert first.json()["id"] != second.json()["id"]
        assert await count(client, path) == 3

    async def test_key_order_and_whitespace_do_not_change_the_fingerprint(
        self, client: httpx.AsyncClient, path: str
    ) -> None:
        original = await post(client, path, '{"content":"x","author":"bob"}', "k-ws")
        assert original.status_code == 201, original.text
        replay = await post(client, path, '{\n  "author" : "bob",\t"content": "x"\n}  ', "k-ws")
        assert_replay_of(replay, original)
        assert await count(client, path) == 2

    async def test_replay_is_the_stored_response_even_after_the_thread_is_locked(
        self, client: httpx.AsyncClient, thread: dict[str, Any], path: str
    ) -> None:
        original = await post(client, path, {"content": "before"}, "k-lock")
        assert original.status_code == 201, original.text
        locked = await client.patch(
            f"/v1/spaces/{thread['space_id']}/threads/{thread['id']}", json={"status": "locked"}
        )
        assert locked.status_code == 200, locked.text
        assert_replay_of(await post(client, path, {"content": "before"}, "k-lock"), original)

    async def test_location_of_a_replay_points_at_the_created_resource(
        self, client: httpx.AsyncClient, path: str
    ) -> None:
        original = await post(client, path, {"content": "find me"}, "k-loc")
        replay = await post(client, path, {"content": "find me"}, "k-loc")
        fetched = await client.get(replay.headers["location"])
        assert fetched.status_code == 200
        assert fetched.json() == original.json()


class TestFingerprint:
    async def test_same_key_with_another_body_is_422(
        self, client: httpx.AsyncClient, path: str
    ) -> None:
        assert (await post(client, path, {"content": "one"}, "k-2")).status_code == 201
        reused = await post(client, path, {"content": "two"}, "k-2")
        assert_problem(reused, 422, "idempotency_key_reused")
        assert REPLAYED not in reused.headers
        assert await count(client, path) == 2

    async def test_same_key_on_another_thread_is_422(
        self, api: Api, client: httpx.AsyncClient, thread: dict[str, Any], path: str
    ) -> None:
        other = await api.thread(thread["space_id"], "other")
        other_path = messages_path(other["space_id"], other["id"])
        assert (await post(client, path, {"content": "same"}, "k-3")).status_code == 201
        reused = await post(client, other_path, {"content": "same"}, "k-3")
        assert_problem(reused, 422, "idempotency_key_reused")
        assert await count(client, other_path) == 1

    async def test_same_key_on_another_endpoint_is_422(
        self, client: httpx.AsyncClient, thread: dict[str, Any], path: str
    ) -> None:
        assert (await post(client, path, {"content": "same"}, "k-4")).status_code == 201
        threads_path = f"/v1/spaces/{thread['space_id']}/threads/messages"
        reused = await post(client, threads_path, {"content": "same"}, "k-4")
        assert_problem(reused, 422, "idempotency_key_reused")
        assert await count(client, f"/v1/spaces/{thread['space_id']}/threads?status=all") == 1


class TestScoping:
    async def test_two_api_keys_may_use_the_same_key_value(
        self, api: Api, client: httpx.AsyncClient, thread: dict[str, Any], path: str
    ) -> None:
        alice = await api.key(["write"], [thread["space_id"]])
        bob = await api.key(["write"], [thread["space_id"]])
        body = {"content": "shared key value"}

        first_a = await post(client, path, body, "shared", secret=alice)
        first_b = await post(client, path, body, "shared", secret=bob)
        assert first_a.status_code == first_b.status_code == 201
        assert REPLAYED not in first_b.headers
        assert first_a.json()["id"] != first_b.json()["id"]

        assert_replay_of(await post(client, path, body, "shared", secret=alice), first_a)
        assert_replay_of(await post(client, path, body, "shared", secret=bob), first_b)
        assert await count(client, path) == 3

    async def test_another_api_key_with_another_body_is_not_a_reuse(
        self, api: Api, client: httpx.AsyncClient, thread: dict[str, Any], path: str
    ) -> None:
        alice = await api.key(["write"], [thread["space_id"]])
        assert (await post(client, path, {"content": "a"}, "k-5", secret=alice)).status_code == 201
        other = await post(client, path, {"content": "b"}, "k-5")
        assert other.status_code == 201, other.text
        assert REPLAYED not in other.headers


class TestFailuresStoreNothing:
    async def test_a_409_stores_nothing_and_the_key_works_once_the_thread_reopens(
        self, client: httpx.AsyncClient, thread: dict[str, Any], path: str
    ) -> None:
        thread_url = f"/v1/spaces/{thread['space_id']}/threads/{thread['id']}"
        assert (await client.patch(thread_url, json={"status": "locked"})).status_code == 200
        body = {"content": "let me in"}
        for _ in range(2):  # retrying the error runs it again: it was not stored
            assert_problem(await post(client, path, body, "k-6"), 409, "thread_closed")

        assert (await client.patch(thread_url, json={"status": "open"})).status_code == 200
        created = await post(client, path, body, "k-6")
        assert created.status_code == 201, created.text
        assert REPLAYED not in created.headers
        assert_replay_of(await post(client, path, body, "k-6"), created)
        assert await count(client, path) == 2

    async def test_a_422_stores_nothing_and_the_corrected_body_may_use_the_key(
        self, client: httpx.AsyncClient, path: str
    ) -> None:
        invalid = await post(client, path, {"content": "   "}, "k-7")
        assert_problem(invalid, 422, "validation_failed")
        created = await post(client, path, {"content": "fixed"}, "k-7")
        assert created.status_code == 201, created.text
        assert REPLAYED not in created.headers
        assert await count(client, path) == 2

    async def test_a_404_stores_nothing(
        self, client: httpx.AsyncClient, thread: dict[str, Any], path: str
    ) -> None:
        missing = messages_path(thread["space_id"], "thr_00000000000000000000000000")
        assert_problem(
            await post(client, missing, {"content": "x"}, "k-8"), 404, "thread_not_found"
        )
        created = await post(client, path, {"content": "x"}, "k-8")
        assert created.status_code == 201, created.text

    async def test_an_unknown_space_in_a_new_api_key_stores_nothing(
        self, client: httpx.AsyncClient
    ) -> None:
        body = {"name": "k", "scopes": ["read"], "space_ids": ["spc_00000000000000000000000000"]}
        assert_problem(await post(client, "/v1/api-keys", body, "k-9"), 422, "unknown_space")
        created = await post(client, "/v1/api-keys", {"name": "k", "scopes": ["admin"]}, "k-9")
        assert created.status_code == 201, created.text
        assert REPLAYED not in created.headers


class TestKeyFormat:
    @pytest.mark.parametrize(
        "key",
        [
            pytest.param(b"", id="empty"),
            pytest.param(b"a" * 256, id="256-chars"),
            pytest.param(b"abc\x01def", id="control-char"),
            pytest.param(b"abc\tdef", id="tab"),
            pytest.param(b"abc\x7f", id="del"),
            pytest.param("clé".encode(), id="non-ascii-utf8"),
            pytest.param(b"caf\xe9", id="non-ascii-latin1"),
        ],
    )
    async def test_a_bad_key_is_400_and_creates_nothing(
        self, client: httpx.AsyncClient, path: str, key: bytes
    ) -> None:
        response = await post(client, path, {"content": "x"}, key)
        assert_problem(response, 400, "invalid_idempotency_key")
        assert await count(client, path) == 1

    @pytest.mark.parametrize(
        "key",
        [
            pytest.param("a", id="one-char"),
            pytest.param("a" * 255, id="255-chars"),
            pytest.param("a b~!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}", id="printable-punctuation"),
        ],
    )
    async def test_a_good_key_is_accepted(
        self, client: httpx.AsyncClient, path: str, key: str
    ) -> None:
        original = await post(client, path, {"content": "x"}, key)
        assert original.status_code == 201, original.text
        assert_replay_of(await post(client, path, {"content": "x"}, key), original)

    async def test_keys_are_case_sensitive(self, client: httpx.AsyncClient, path: str) -> None:
        first = await post(client, path, {"content": "x"}, "Key-A")
        second = await post(client, path, {"content": "x"}, "key-a")
        assert first.status_code == second.status_code == 201
        assert REPLAYED not in second.headers
        assert first.json()["id"] != second.json()["id"]


# --- every endpoint that accepts a key -------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """A POST that accepts `Idempotency-Key`, arranged through the API."""

    name: str
    arrange: Callable[[Api], Awaitable[tuple[str, dict[str, Any], dict[str, Any], str]]]


async def _message(api: Api) -> tuple[str, dict[str, Any], dict[str, Any], str]:
    space = await api.space()
    thread = await api.thread(space["id"])
    path = messages_path(space["id"], thread["id"])
    return path, {"content": "a"}, {"content": "b"}, path


async def _thread_with_message(api: Api) -> tuple[str, dict[str, Any], dict[str, Any], str]:
    space = await api.space()
    path = f"/v1/spaces/{space['id']}/threads/messages"
    return path, {"content": "a"}, {"content": "b"}, f"/v1/spaces/{space['id']}/threads?status=all"


async def _space(api: Api) -> tuple[str, dict[str, Any], dict[str, Any], str]:
    return "/v1/spaces", {"name": "a"}, {"name": "b"}, "/v1/spaces"


async def _api_key(api: Api) -> tuple[str, dict[str, Any], dict[str, Any], str]:
    space = await api.space()
    body = {"name": "a", "scopes": ["read"], "space_ids": [space["id"]]}
    return "/v1/api-keys", body, {**body, "name": "b"}, "/v1/api-keys"


ENDPOINTS = [
    Endpoint("message", _message),
    Endpoint("thread_with_message", _thread_with_message),
    Endpoint("space", _space),
    Endpoint("api_key", _api_key),
]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
class TestEveryEndpoint:
    async def test_replay(self, api: Api, client: httpx.AsyncClient, endpoint: Endpoint) -> None:
        path, body, _, list_path = await endpoint.arrange(api)
        before = await count(client, list_path)
        original = await post(client, path, body, "every-1")
        assert original.status_code == 201, original.text
        assert REPLAYED not in original.headers
        assert original.headers["location"]
        assert_replay_of(await post(client, path, body, "every-1"), original)
        assert await count(client, list_path) == before + 1

    async def test_reuse_with_another_body(
        self, api: Api, client: httpx.AsyncClient, endpoint: Endpoint
    ) -> None:
        path, body, other, list_path = await endpoint.arrange(api)
        assert (await post(client, path, body, "every-2")).status_code == 201
        before = await count(client, list_path)
        assert_problem(await post(client, path, other, "every-2"), 422, "idempotency_key_reused")
        assert await count(client, list_path) == before

    async def test_bad_key(self, api: Api, client: httpx.AsyncClient, endpoint: Endpoint) -> None:
        path, body, _, list_path = await endpoint.arrange(api)
        before = await count(client, list_path)
        assert_problem(await post(client, path, body, b"\x01"), 400, "invalid_idempotency_key")
        assert await count(client, list_path) == before


async def test_replayed_api_key_creation_never_shows_or_stores_the_secret(
    app: Any, client: httpx.AsyncClient
) -> None:
    """A secret is shown once and only its hash is stored: the idempotency record keeps the
    response without it, so a replay answers the same key with `secret: null`."""
    body = {"name": "replayed", "scopes": ["admin"]}
    original = await post(client, "/v1/api-keys", body, "mint")
    replay = await post(client, "/v1/api-keys", body, "mint")
    assert original.status_code == replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.headers["Location"] == original.headers["Location"]
    secret = original.json()["secret"]
    assert replay.json() == {**original.json(), "secret": None}
    async with app.state.database.reader() as session, session.begin():
        stored = await session.scalars(select(IdempotencyRecord.response_body))
        assert all(secret.encode() not in body for body in stored)
    assert (await client.get("/v1/spaces", headers={"X-API-Key": secret})).status_code == 200


# --- retention -------------------------------------------------------------------------


async def _records(app: Any) -> int:
    async with app.state.database.reader() as session, session.begin():
        return await session.scalar(select(func.count()).select_from(IdempotencyRecord)) or 0


class TestExpiry:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"idempotency_ttl_seconds": 1}

    @pytest.fixture(autouse=True)
    def no_purger(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without the background purge, the request path must handle expired records."""

        async def idle(*_: Any) -> None:
            await asyncio.Event().wait()

        monkeypatch.setattr("threads_api.app.purge_expired_forever", idle)

    async def test_after_expiry_the_same_key_creates_a_new_resource(
        self, app: Any, client: httpx.AsyncClient, path: str
    ) -> None:
        original = await post(client, path, {"content": "x"}, "ttl")
        assert_replay_of(await post(client, path, {"content": "x"}, "ttl"), original)
        await asyncio.sleep(1.2)
        assert await _records(app) == 1  # expired, but nothing purged it

        fresh = await post(client, path, {"content": "x"}, "ttl")
        assert fresh.status_code == 201, fresh.text
        assert REPLAYED not in fresh.headers
        assert fresh.json()["id"] != original.json()["id"]
        assert_replay_of(await post(client, path, {"content": "x"}, "ttl"), fresh)
        assert await count(client, path) == 3

    async def test_after_expiry_the_key_may_carry_another_body(
        self, client: httpx.AsyncClient, path: str
    ) -> None:
        assert (await post(client, path, {"content": "x"}, "ttl-2")).status_code == 201
        await asyncio.sleep(1.2)
        other = await post(client, path, {"content": "y"}, "ttl-2")
        assert other.status_code == 201, other.text
        assert REPLAYED not in other.headers


class TestPurge:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"idempotency_ttl_seconds": 1}

    async def test_expired_records_are_purged_in_the_background(
        self, app: Any, client: httpx.AsyncClient, path: str
    ) -> None:
        for key in ("p-1", "p-2"):
            assert (await post(client, path, {"content": key}, key)).status_code == 201
        assert await _records(app) == 2
        deadline = time.monotonic() + 4
        while await _records(app) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        assert await _records(app) == 0


# --- a real server -------------------------------------------------------------------------


@pytest.mark.slow
def test_replay_survives_a_server_restart(
    database_url: str, server_factory: Callable[..., Server]
) -> None:
    server = server_factory(database_url)
    with httpx.Client(base_url=server.url, headers={"X-API-Key": ADMIN_SECRET}) as http:
        space = http.post("/v1/spaces", json={"name": "restart"}).json()
        thread = http.post(
            f"/v1/spaces/{space['id']}/threads/messages", json={"content": "first"}
        ).json()["thread"]
        path = messages_path(space["id"], thread["id"])
        original = http.post(path, json={"content": "durable"}, headers={KEY: "restart"})
        assert original.status_code == 201, original.text
    server.stop()
    assert server.process.returncode is not None

    restarted = server_factory(database_url)
    with httpx.Client(base_url=restarted.url, headers={"X-API-Key": ADMIN_SECRET}) as http:
        replay = http.post(path, json={"content": "durable"}, headers={KEY: "restart"})
        assert_replay_of(replay, original)
        messages = http.get(path).json()["data"]
        assert [m["id"] for m in messages][1:] == [original.json()["id"]]


# --- a duplicate while the first request still runs ---------------------------------------


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_duplicate_of_a_request_still_running_is_409_with_retry_after(
    database_url: str, client: httpx.AsyncClient, thread: dict[str, Any], path: str
) -> None:
    """The first request claims the key, then waits for the thread's row, which the test
    holds locked; a duplicate sent meanwhile must answer 409 promptly, not hang or 503."""
    blocker = await asyncpg.connect(_asyncpg_dsn(database_url), timeout=10)
    try:
        transaction = blocker.transaction()
        await transaction.start()
        await blocker.execute("SELECT 1 FROM threads WHERE id = $1 FOR UPDATE", thread["id"])
        first = asyncio.create_task(post(client, path, {"content": "slow"}, "in-flight"))
        await asyncio.sleep(0.5)
        assert not first.done()

        started = time.monotonic()
        duplicate = await post(client, path, {"content": "slow"}, "in-flight")
        waited = time.monotonic() - started
        assert_problem(duplicate, 409, "idempotency_in_flight")
        assert int(duplicate.headers["retry-after"]) >= 1
        assert waited < 4, waited
        assert not first.done()
        await transaction.rollback()
    finally:
        await blocker.close()

    original = await first
    assert original.status_code == 201, original.text
    assert_replay_of(await post(client, path, {"content": "slow"}, "in-flight"), original)
    assert await count(client, path) == 2
