"""Conditional requests and no-op changes on threads and spaces (contract §5)."""

import httpx

from tests.helpers import problem


async def test_archive_with_a_stale_if_match_is_412_and_changes_nothing(
    client: httpx.AsyncClient, api
) -> None:
    space = await api.space()
    thread = await api.thread(space["id"])
    url = f"/v1/spaces/{space['id']}/threads/{thread['id']}"
    stale = (await client.get(url)).headers["etag"]
    await client.patch(url, json={"title": "renamed"})

    problem(await client.delete(url, headers={"If-Match": stale}), 412, "precondition_failed")
    assert (await client.get(url)).json()["status"] == "open"


async def test_archive_with_the_current_if_match_archives(client: httpx.AsyncClient, api) -> None:
    space = await api.space()
    thread = await api.thread(space["id"])
    url = f"/v1/spaces/{space['id']}/threads/{thread['id']}"
    current = (await client.get(url)).headers["etag"]

    response = await client.delete(url, headers={"If-Match": current})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "archived"
    assert response.headers["etag"] != current
    assert (await client.delete(url, headers={"If-Match": "*"})).status_code == 200


async def test_thread_patch_to_the_same_values_changes_neither_updated_at_nor_etag(
    client: httpx.AsyncClient, api
) -> None:
    space = await api.space()
    thread = await api.thread(space["id"], "first line", thread_metadata={"a": "1"})
    url = f"/v1/spaces/{space['id']}/threads/{thread['id']}"
    before = await client.get(url)

    for patch in (
        {"title": thread["title"]},
        {"status": "open"},
        {"metadata": {"a": "1"}},
        {"metadata": {"gone": None}},
        {"title": thread["title"], "status": "open", "metadata": {}},
        {},
    ):
        response = await client.patch(url, json=patch)
        assert response.status_code == 200, response.text
        assert response.json() == before.json(), patch
        assert response.headers["etag"] == before.headers["etag"], patch

    changed = await client.patch(url, json={"metadata": {"a": "2"}})
    assert changed.json()["updated_at"] > thread["updated_at"]
    assert changed.headers["etag"] != before.headers["etag"]


async def test_archiving_an_archived_thread_keeps_its_etag(client: httpx.AsyncClient, api) -> None:
    space = await api.space()
    thread = await api.thread(space["id"])
    url = f"/v1/spaces/{space['id']}/threads/{thread['id']}"
    first = await client.delete(url)
    again = await client.delete(url)
    assert again.json() == first.json()
    assert again.headers["etag"] == first.headers["etag"]


async def test_space_patch_to_the_same_values_keeps_updated_at(
    client: httpx.AsyncClient, api
) -> None:
    space = await api.space("same")
    url = f"/v1/spaces/{space['id']}"
    for patch in ({"name": "same"}, {"metadata": {}}, {"metadata": {"x": None}}):
        response = await client.patch(url, json=patch)
        assert response.status_code == 200, response.text
        assert response.json()["updated_at"] == space["updated_at"], patch
    changed = await client.patch(url, json={"name": "other"})
    assert changed.json()["updated_at"] > space["updated_at"]
