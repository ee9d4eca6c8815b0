"""Editing a message: PATCH, its ETag and preconditions, field rules, and the thread's status."""

from typing import Any

import httpx
import pytest

from tests.helpers import Api, problem
from tests.message.support import MERGE_PATCH, first_message, message_url, thread_url


async def arrange(api: Api, content: str = "first") -> tuple[dict[str, Any], dict[str, Any]]:
    space = await api.space()
    thread = await api.thread(space["id"], content, metadata={"a": "1"})
    return thread, await first_message(api.http, thread)


async def test_new_message_is_version_1_not_edited_not_deleted(api: Api) -> None:
    thread, message = await arrange(api)

    assert message["version"] == 1
    assert message["edited_at"] is None
    assert message["deleted_at"] is None
    created = await api.message(thread["space_id"], thread["id"], "second")
    assert (created["version"], created["edited_at"], created["deleted_at"]) == (1, None, None)


async def test_patch_content_makes_version_2(api: Api, client: httpx.AsyncClient) -> None:
    _, message = await arrange(api)

    response = await client.patch(message_url(message), json={"content": "first, corrected"})

    assert response.status_code == 200, response.text
    edited = response.json()
    assert edited["content"] == "first, corrected"
    assert edited["version"] == 2
    assert edited["edited_at"] >= edited["created_at"]
    assert edited["deleted_at"] is None
    unchanged = ("id", "seq", "author", "created_at", "metadata", "space_id", "thread_id")
    assert {k: edited[k] for k in unchanged} == {k: message[k] for k in unchanged}
    assert (await client.get(message_url(message))).json() == edited


async def test_patch_merges_metadata(api: Api, client: httpx.AsyncClient) -> None:
    _, message = await arrange(api)

    response = await client.patch(
        message_url(message), json={"metadata": {"a": None, "b": "2"}}, headers=MERGE_PATCH
    )

    assert response.status_code == 200, response.text
    assert response.json()["metadata"] == {"b": "2"}
    assert response.json()["content"] == "first"
    assert response.json()["version"] == 2
    cleared = await client.patch(message_url(message), json={"metadata": None})
    assert cleared.json()["metadata"] == {}


async def test_metadata_limits_apply_to_the_merged_result(
    api: Api, client: httpx.AsyncClient
) -> None:
    _, message = await arrange(api)
    sixteen_more = {f"k{i}": "v" for i in range(16)}

    problem(await client.patch(message_url(message), json={"metadata": sixteen_more}), 422)


async def test_a_patch_to_the_same_values_changes_nothing(
    api: Api, client: httpx.AsyncClient
) -> None:
    _, message = await arrange(api)
    etag = (await client.get(message_url(message))).headers["etag"]

    for patch in ({}, {"content": "first"}, {"metadata": {"a": "1"}}):
        response = await client.patch(message_url(message), json=patch)
        assert response.status_code == 200, response.text
        assert response.json() == message
        assert response.headers["etag"] == etag
    versions = await client.get(f"{message_url(message)}/versions")
    assert versions.json()["data"] == []


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"author": "mallory"}, "author"),
        ({"seq": 7}, "seq"),
        ({"version": 9}, "version"),
        ({"content": None}, "content"),
        ({"content": "   \n"}, "content"),
        ({"content": "x" * 32_769}, "content"),
        ({"content": "nul \u0000 here"}, "content"),
        ({"metadata": {"k": "v" * 513}}, "metadata"),
    ],
)
async def test_field_rules_as_on_create(
    api: Api, client: httpx.AsyncClient, patch: dict[str, Any], field: str
) -> None:
    _, message = await arrange(api)

    body = problem(await client.patch(message_url(message), json=patch), 422, "validation_failed")

    assert any(field in error["loc"] for error in body["errors"]), body
    assert (await client.get(message_url(message))).json() == message


async def test_get_message_has_a_strong_etag_and_answers_304(
    api: Api, client: httpx.AsyncClient
) -> None:
    _, message = await arrange(api)

    response = await client.get(message_url(message))
    etag = response.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")

    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        cached = await client.get(message_url(message), headers={"If-None-Match": header})
        assert cached.status_code == 304, header
        assert cached.headers["etag"] == etag
        assert cached.content == b""
    stale = await client.get(message_url(message), headers={"If-None-Match": '"stale"'})
    assert stale.status_code == 200


async def test_the_etag_changes_with_an_edit(api: Api, client: httpx.AsyncClient) -> None:
    _, message = await arrange(api)
    before = (await client.get(message_url(message))).headers["etag"]

    edited = await client.patch(message_url(message), json={"content": "changed"})

    assert edited.headers["etag"] != before
    assert (await client.get(message_url(message))).headers["etag"] == edited.headers["etag"]
    old = await client.get(message_url(message), headers={"If-None-Match": before})
    assert old.status_code == 200


async def test_if_match_guards_the_edit(api: Api, client: httpx.AsyncClient) -> None:
    _, message = await arrange(api)
    etag = (await client.get(message_url(message))).headers["etag"]

    first = await client.patch(
        message_url(message), json={"content": "mine"}, headers={"If-Match": etag}
    )
    assert first.status_code == 200, first.text
    second = await client.patch(
        message_url(message), json={"content": "theirs"}, headers={"If-Match": etag}
    )
    problem(second, 412, "precondition_failed")
    weak = await client.patch(
        message_url(message),
        json={"content": "weak"},
        headers={"If-Match": f"W/{first.headers['etag']}"},
    )
    problem(weak, 412, "precondition_failed")
    assert (await client.get(message_url(message))).json()["content"] == "mine"
    star = await client.patch(
        message_url(message), json={"content": "any"}, headers={"If-Match": "*"}
    )
    assert star.status_code == 200


@pytest.mark.parametrize("status", ["locked", "archived"])
async def test_a_closed_thread_refuses_edits(
    api: Api, client: httpx.AsyncClient, status: str
) -> None:
    thread, message = await arrange(api)
    await client.patch(thread_url(thread), json={"status": status})

    body = problem(
        await client.patch(message_url(message), json={"content": "late"}), 409, "thread_closed"
    )

    assert status in body["detail"]
    assert (await client.get(message_url(message))).json()["content"] == "first"


async def test_an_erased_message_cannot_be_edited(api: Api, client: httpx.AsyncClient) -> None:
    _, message = await arrange(api)
    await client.delete(message_url(message))

    problem(
        await client.patch(message_url(message), json={"content": "back"}), 409, "message_deleted"
    )
    problem(await client.patch(message_url(message), json={}), 409, "message_deleted")


async def test_unknown_or_foreign_messages_are_404(api: Api, client: httpx.AsyncClient) -> None:
    thread, message = await arrange(api)
    other = await api.thread(thread["space_id"], "other thread")
    base = f"{thread_url(thread)}/messages"

    for url in (
        f"{base}/msg_01AAAAAAAAAAAAAAAAAAAAAAAA",
        f"{base}/not-an-id",
        f"{thread_url(other)}/messages/{message['id']}",
        f"/v1/spaces/{thread['space_id']}/threads/thr_nope/messages/{message['id']}",
    ):
        problem(await client.patch(url, json={"content": "x"}), 404)
        problem(await client.delete(url), 404)
        problem(await client.get(f"{url}/versions"), 404)


async def test_a_read_key_cannot_edit_or_erase(api: Api, client: httpx.AsyncClient) -> None:
    thread, message = await arrange(api)
    reader = await api.key(["read"], [thread["space_id"]])
    headers = {"X-API-Key": reader}

    problem(await client.patch(message_url(message), json={"content": "x"}, headers=headers), 403)
    problem(await client.delete(message_url(message), headers=headers), 403)
    versions = await client.get(f"{message_url(message)}/versions", headers=headers)
    assert versions.status_code == 200


async def test_edit_keeps_the_thread_list_and_counts(api: Api, client: httpx.AsyncClient) -> None:
    thread, message = await arrange(api)
    await api.message(thread["space_id"], thread["id"], "second")

    await client.patch(message_url(message), json={"content": "first, edited"})

    after = (await client.get(thread_url(thread))).json()
    assert after["message_count"] == 2
    listed = (await client.get(f"{thread_url(thread)}/messages")).json()["data"]
    assert [(m["seq"], m["content"], m["version"]) for m in listed] == [
        (1, "first, edited", 2),
        (2, "second", 1),
    ]
