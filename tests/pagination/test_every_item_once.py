"""Paging through any list shows each item exactly once and in order (contract §7)."""

import pytest

from tests.pagination.support import arrange_messages, arrange_threads, collect, ids


@pytest.mark.parametrize("sort", ["last_message_at", "created_at"])
@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_threads_page_through_every_item_once_in_order(api, client, sort, order):
    space_id, threads = await arrange_threads(api, client)
    expected = ids(sorted(threads, key=lambda t: (t[sort], t["id"]), reverse=order == "desc"))
    path = f"/v1/spaces/{space_id}/threads"

    for limit in (1, 2, 3, 7, 8):
        seen = ids(await collect(client, path, limit, sort=sort, order=order))

        assert seen == expected, limit


async def test_threads_page_through_with_status_filter(api, client):
    space_id, threads = await arrange_threads(api, client)
    for thread in threads[:3]:
        await client.delete(f"/v1/spaces/{space_id}/threads/{thread['id']}")
    path = f"/v1/spaces/{space_id}/threads"

    archived = ids(await collect(client, path, 2, status="archived"))
    everything = ids(await collect(client, path, 2, status="all"))

    assert sorted(archived) == sorted(ids(threads[:3]))
    assert sorted(everything) == sorted(ids(threads))
    assert len(everything) == len(set(everything))


@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_messages_page_through_every_item_once_in_order(api, client, order):
    path, _ = await arrange_messages(api)
    expected = list(range(1, 8)) if order == "asc" else list(range(7, 0, -1))

    for limit in (1, 2, 3, 7, 8):
        seen = [m["seq"] for m in await collect(client, path, limit, order=order)]

        assert seen == expected, limit


async def test_spaces_page_through_in_creation_order(api, client):
    created = [await api.space(f"space {i}") for i in range(7)]

    for limit in (1, 2, 3, 7, 8):
        assert ids(await collect(client, "/v1/spaces", limit)) == ids(created), limit


async def test_api_keys_page_through_in_creation_order(api, client):
    bootstrap = (await client.get("/v1/api-keys")).json()["data"]
    assert len(bootstrap) == 1
    created = []
    for i in range(6):
        response = await client.post(
            "/v1/api-keys", json={"name": f"k{i}", "scopes": ["admin"], "space_ids": []}
        )
        assert response.status_code == 201, response.text
        created.append(response.json())
    expected = ids(bootstrap) + ids(created)

    for limit in (1, 2, 3, 7, 8):
        assert ids(await collect(client, "/v1/api-keys", limit)) == expected, limit
