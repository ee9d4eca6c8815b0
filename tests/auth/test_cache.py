"""The cache of authenticated keys must not delay revocation: at once in the process that
revokes, within 100 ms in every other process (ADR 0005). Other processes are stood in for
by a second app on the same database; tests/auth/test_revocation_servers.py uses real ones."""

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from tests.helpers import ADMIN_SECRET, Api
from threads_api.app import create_app
from threads_api.auth import repository
from threads_api.auth.cache import PrincipalCache
from threads_api.auth.principal import Principal
from threads_api.auth.service import auth
from threads_api.config import Settings
from threads_api.errors import Unauthorized
from threads_api.state import app_state

BOUND_SECONDS = 0.1  # api.md §2

PRINCIPAL = Principal(key_id="key_1", scopes=frozenset({"read"}), space_ids=frozenset())


@asynccontextmanager
async def another_process(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An admin client of a second app, with its own cache, on the same database."""
    other: Any = create_app(settings)
    async with (
        other.router.lifespan_context(other),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=other),
            base_url="http://other",
            headers={"X-API-Key": ADMIN_SECRET},
        ) as client,
    ):
        yield client


async def key_with_id(api: Api, client: httpx.AsyncClient) -> tuple[dict[str, str], str]:
    space = await api.space()
    secret = await api.key(["read"], [space["id"]])
    key_id = (await client.get("/v1/api-keys")).json()["data"][-1]["id"]
    return {"X-API-Key": secret}, key_id


class TestPrincipalCache:
    def test_serves_nothing_before_the_first_check(self) -> None:
        cache = PrincipalCache()
        cache.put("hash", PRINCIPAL, cache.epoch)
        assert cache.get("hash") is None

    def test_serves_what_it_holds_after_a_recent_check(self) -> None:
        cache = PrincipalCache(trust_seconds=3600)
        cache.put("hash", PRINCIPAL, cache.epoch)
        cache.trust_from(time.monotonic())
        assert cache.get("hash") == PRINCIPAL

    def test_serves_nothing_once_the_last_check_is_too_old(self) -> None:
        cache = PrincipalCache(trust_seconds=1)
        cache.put("hash", PRINCIPAL, cache.epoch)
        cache.trust_from(time.monotonic() - 2)
        assert cache.get("hash") is None

    def test_a_lookup_begun_before_a_clear_is_not_kept(self) -> None:
        # The lookup may have read the key before a revocation that the clear stands for.
        cache = PrincipalCache(trust_seconds=3600)
        began = cache.epoch
        cache.clear()
        cache.put("hash", PRINCIPAL, began)
        cache.trust_from(time.monotonic())
        assert cache.get("hash") is None

    async def test_a_lookup_in_flight_is_shared_until_a_clear_or_a_revocation(self) -> None:
        cache = PrincipalCache(trust_seconds=3600)
        for forget in (cache.clear, lambda: cache.revoke("key_1")):
            lookup = asyncio.get_running_loop().create_future()
            cache.lookup_started("hash", lookup)
            assert cache.lookup_in_flight("hash") is lookup
            forget()
            assert cache.lookup_in_flight("hash") is None
            lookup.cancel()

    async def test_a_lookup_older_than_the_trust_window_is_not_shared(self) -> None:
        # What it read may predate a revocation that the cache would no longer hide.
        cache = PrincipalCache(trust_seconds=0)
        lookup = asyncio.get_running_loop().create_future()
        cache.lookup_started("hash", lookup)
        assert cache.lookup_in_flight("hash") is None
        lookup.cancel()


async def shared_lookups(
    api: Api, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> tuple[PrincipalCache, str, str, list[str]]:
    """A cache that trusts for an hour, a new key's secret and id, and the secret hashes that
    the database was asked for."""
    space = await api.space()
    secret = await api.key(["read"], [space["id"]])
    key_id = (await client.get("/v1/api-keys")).json()["data"][-1]["id"]
    asked: list[str] = []
    get_by_hash = repository.get_by_hash

    async def counted(session: Any, secret_hash: str) -> Any:
        asked.append(secret_hash)
        return await get_by_hash(session, secret_hash)

    monkeypatch.setattr(repository, "get_by_hash", counted)
    return PrincipalCache(trust_seconds=3600), secret, key_id, asked


async def test_requests_that_miss_together_share_one_lookup(
    app: Any, api: Api, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
):
    """When a busy key's entry expires, every request in flight misses at once."""
    cache, secret, key_id, asked = await shared_lookups(api, client, monkeypatch)
    database = app_state(app).database

    principals = await asyncio.gather(
        *(auth.authenticate(database, cache, secret) for _ in range(10))
    )

    assert {p.key_id for p in principals} == {key_id}
    assert len(asked) == 1


async def test_a_shared_lookup_serves_no_key_revoked_meanwhile(
    app: Any, api: Api, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
):
    cache, secret, key_id, asked = await shared_lookups(api, client, monkeypatch)
    database = app_state(app).database
    waiting = [asyncio.create_task(auth.authenticate(database, cache, secret)) for _ in range(3)]
    await asyncio.sleep(0)  # each has joined the lookup

    cache.revoke(key_id)

    outcomes = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(outcome, Unauthorized) for outcome in outcomes)
    assert len(asked) == 1


async def test_revocation_applies_at_once_to_a_cached_key(api: Api, client: httpx.AsyncClient):
    headers, key_id = await key_with_id(api, client)
    assert (await client.get("/v1/spaces", headers=headers)).status_code == 200  # now cached

    assert (await client.delete(f"/v1/api-keys/{key_id}")).status_code == 200

    assert (await client.get("/v1/spaces", headers=headers)).status_code == 401


async def test_revocation_in_another_process_applies_within_100_ms(
    api: Api, client: httpx.AsyncClient, settings: Settings
):
    headers, key_id = await key_with_id(api, client)
    async with another_process(settings) as elsewhere:
        for _ in range(5):
            assert (await elsewhere.get("/v1/spaces", headers=headers)).status_code == 200

        assert (await client.delete(f"/v1/api-keys/{key_id}")).status_code == 200
        await asyncio.sleep(BOUND_SECONDS)

        for _ in range(20):
            assert (await elsewhere.get("/v1/spaces", headers=headers)).status_code == 401
        assert (await elsewhere.get("/v1/spaces")).status_code == 200  # the admin key still works


async def test_the_watcher_wakes_waiters_when_another_process_revokes(
    app: Any, api: Api, client: httpx.AsyncClient, settings: Settings
):
    """What a later event stream will wait on to end a revoked key's stream."""
    _, key_id = await key_with_id(api, client)
    async with another_process(settings) as elsewhere:
        await app_state(app).revocations.check()  # past the first poll, which always "changes"
        changed = app_state(app).revocations.next_change()

        assert (await elsewhere.delete(f"/v1/api-keys/{key_id}")).status_code == 200

        await asyncio.wait_for(changed.wait(), timeout=10)


class TestStaleWatcher:
    """A watcher that has not checked lately (here: it polls once an hour) must not let the
    cache serve: keys are then read from the database on every request."""

    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"revocation_poll_ms": 3_600_000}

    async def test_a_stale_cache_is_not_trusted(
        self, api: Api, client: httpx.AsyncClient, settings: Settings
    ):
        headers, key_id = await key_with_id(api, client)
        assert (await client.get("/v1/spaces", headers=headers)).status_code == 200  # cached

        async with another_process(settings) as elsewhere:
            assert (await elsewhere.delete(f"/v1/api-keys/{key_id}")).status_code == 200
        # Past the trust window of this app's only poll (or that poll saw the revocation).
        await asyncio.sleep(BOUND_SECONDS)

        assert (await client.get("/v1/spaces", headers=headers)).status_code == 401

    async def test_keys_still_work_when_read_from_the_database(
        self, api: Api, client: httpx.AsyncClient
    ):
        headers, _ = await key_with_id(api, client)
        await asyncio.sleep(BOUND_SECONDS)
        for _ in range(3):
            assert (await client.get("/v1/spaces", headers=headers)).status_code == 200
