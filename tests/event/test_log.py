"""The event log (contract §14): every change appends one event in its transaction, with
the object after the change; requests that change nothing append none."""

from typing import Any

import httpx

from tests.event.support import all_events
from tests.helpers import Api, problem

MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}


def thread_url(thread: dict[str, Any]) -> str:
    return f"/v1/spaces/{thread['space_id']}/threads/{thread['id']}"


def kinds(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


async def started(api: Api) -> tuple[dict[str, Any], dict[str, Any]]:
    space = await api.space()
    return space, await api.thread(space["id"], "first line\nmore")


async def test_creating_a_thread_appends_thread_created_then_message_created(
    api: Api, client: httpx.AsyncClient
) -> None:
    space, thread = await started(api)
    events = await all_events(client, space["id"])
    assert kinds(events) == ["thread.created", "message.created"]
    created, message = events
    assert created["data"] == (await client.get(thread_url(thread))).json()
    assert message["data"]["seq"] == 1 and message["data"]["content"] == "first line\nmore"
    for event in events:
        assert event["object"] == "event" and event["id"].startswith("evt_")
        assert event["space_id"] == space["id"] and event["thread_id"] == thread["id"]
    assert created["position"] < message["position"]


async def test_a_message_appends_message_created_and_no_thread_updated(
    api: Api, client: httpx.AsyncClient
) -> None:
    space, thread = await started(api)
    message = await api.message(space["id"], thread["id"], "second")
    events = await all_events(client, space["id"])
    assert kinds(events) == ["thread.created", "message.created", "message.created"]
    assert events[-1]["data"] == message


async def test_every_thread_change_appends_thread_updated(
    api: Api, client: httpx.AsyncClient
) -> None:
    space, thread = await started(api)
    url = thread_url(thread)
    for patch in (
        {"title": "renamed"},
        {"metadata": {"k": "v"}},
        {"status": "locked"},
        {"status": "open"},
        {"status": "archived"},
        {"status": "open"},  # restore
    ):
        response = await client.patch(url, json=patch, headers=MERGE_PATCH)
        assert response.status_code == 200, response.text
    archived = await client.delete(url)
    events = await all_events(client, space["id"])
    updates = [e for e in events if e["type"] == "thread.updated"]
    assert [e["data"]["status"] for e in updates] == [
        "open",
        "open",
        "locked",
        "open",
        "archived",
        "open",
        "archived",
    ]
    assert updates[0]["data"]["title"] == "renamed"
    assert updates[1]["data"]["metadata"] == {"k": "v"}
    assert updates[-1]["data"] == archived.json()


async def test_requests_that_change_nothing_append_nothing(
    api: Api, client: httpx.AsyncClient
) -> None:
    space, thread = await started(api)
    url = thread_url(thread)
    message = await api.message(space["id"], thread["id"], "kept")
    message_url = f"{url}/messages/{message['id']}"
    before = await all_events(client, space["id"])

    await client.patch(url, json={"title": thread["title"]}, headers=MERGE_PATCH)
    await client.patch(message_url, json={"content": "kept"}, headers=MERGE_PATCH)
    await client.delete(url)
    await client.delete(url)  # archiving again
    await client.delete(message_url)
    await client.delete(message_url)  # erasing again
    refused = await client.post(f"{url}/messages", json={"content": "to an archived thread"})
    assert refused.status_code == 409

    after = await all_events(client, space["id"])
    assert kinds(after[len(before) :]) == ["thread.updated", "message.deleted"]


async def test_an_idempotent_replay_appends_nothing(api: Api, client: httpx.AsyncClient) -> None:
    space, thread = await started(api)
    for _ in range(3):
        response = await client.post(
            f"{thread_url(thread)}/messages",
            json={"content": "once"},
            headers={"Idempotency-Key": "replayed"},
        )
        assert response.status_code == 201
    assert kinds(await all_events(client, space["id"]))[2:] == ["message.created"]


async def test_an_edit_appends_message_updated(api: Api, client: httpx.AsyncClient) -> None:
    space, thread = await started(api)
    message = await api.message(space["id"], thread["id"], "draft")
    url = f"{thread_url(thread)}/messages/{message['id']}"
    edited = await client.patch(url, json={"content": "final"}, headers=MERGE_PATCH)
    last = (await all_events(client, space["id"]))[-1]
    assert last["type"] == "message.updated"
    assert last["data"] == edited.json()


async def test_erasure_turns_the_messages_events_into_its_tombstone(
    api: Api, client: httpx.AsyncClient
) -> None:
    """§13: no copy of erased content in the log; position, type and ids stay."""
    space, thread = await started(api)
    message = await api.message(space["id"], thread["id"], "secret words")
    url = f"{thread_url(thread)}/messages/{message['id']}"
    await client.patch(url, json={"content": "secret words, edited"}, headers=MERGE_PATCH)
    await client.patch(thread_url(thread), json={"metadata": {"x": "y"}}, headers=MERGE_PATCH)
    before = await all_events(client, space["id"])

    tombstone = (await client.delete(url)).json()

    after = await all_events(client, space["id"])
    assert [(e["id"], e["type"], e["position"]) for e in after[: len(before)]] == [
        (e["id"], e["type"], e["position"]) for e in before
    ]
    about = [e for e in after if e["data"].get("id") == message["id"]]
    assert kinds(about) == ["message.created", "message.updated", "message.deleted"]
    assert all(e["data"] == tombstone for e in about)
    assert "secret" not in str(after)
    # The thread's events showed it as the last message: they no longer do.
    assert after[-2]["type"] == "thread.updated"
    assert after[-2]["data"]["last_message"] is None


async def test_erasure_retitles_the_thread_in_its_events(
    api: Api, client: httpx.AsyncClient
) -> None:
    space = await api.space()
    thread = await api.thread(space["id"], "Private title line\nbody")
    first = (await client.get(f"{thread_url(thread)}/messages")).json()["data"][0]
    await api.message(space["id"], thread["id"], "a reply")

    await client.delete(f"{thread_url(thread)}/messages/{first['id']}")

    events = await all_events(client, space["id"])
    assert "Private title line" not in str(events)
    assert events[0]["data"]["title"] == "Untitled"
    # The title changed with the erasure: that is a thread.updated.
    assert kinds(events)[-2:] == ["message.deleted", "thread.updated"]
    assert events[-1]["data"]["title"] == "Untitled"
    assert events[-1]["data"]["last_message"]["preview"] == "a reply"


async def test_positions_increase_and_pages_cover_every_event_once(
    api: Api, client: httpx.AsyncClient
) -> None:
    space, thread = await started(api)
    for n in range(12):
        await api.message(space["id"], thread["id"], f"m{n}")
    url = f"/v1/spaces/{space['id']}/events"
    seen, cursor = [], None
    while True:
        params = {"limit": 5} if cursor is None else {"limit": 5, "cursor": cursor}
        body = (await client.get(url, params=params)).json()
        assert body["last_position"] >= max(e["position"] for e in body["data"])
        seen += body["data"]
        cursor = body["next_cursor"]
        if not body["has_more"]:
            break
    positions = [e["position"] for e in seen]
    assert len(seen) == 14 and positions == sorted(set(positions))
    after = await client.get(url, params={"after": positions[-3]})
    assert [e["position"] for e in after.json()["data"]] == positions[-2:]
    nothing = (await client.get(url, params={"after": positions[-1]})).json()
    assert nothing["data"] == [] and nothing["last_position"] == positions[-1]


async def test_filters_by_thread_and_types(api: Api, client: httpx.AsyncClient) -> None:
    space, one = await started(api)
    other = await api.thread(space["id"], "other")
    await api.message(space["id"], one["id"], "to one")
    url = f"/v1/spaces/{space['id']}/events"

    mine = (await client.get(url, params={"thread_id": one["id"]})).json()["data"]
    assert {e["thread_id"] for e in mine} == {one["id"]} and len(mine) == 3
    created = await client.get(url, params={"types": "thread.created,thread.updated"})
    assert [e["thread_id"] for e in created.json()["data"]] == [one["id"], other["id"]]
    both = await client.get(url, params={"types": "message.created", "thread_id": other["id"]})
    assert [e["data"]["content"] for e in both.json()["data"]] == ["other"]


async def test_bad_filters_are_422(api: Api, client: httpx.AsyncClient) -> None:
    space = await api.space()
    url = f"/v1/spaces/{space['id']}/events"
    for params in (
        {"types": "thread.created,thread.deleted"},
        {"types": ","},
        {"thread_id": "thr_nope"},
        {"after": -1},
        {"after": 2**63},
    ):
        problem(await client.get(url, params=params), 422)
        problem(await client.get(f"{url}/stream", params=params), 422)


async def test_a_cursor_belongs_to_its_filters(api: Api, client: httpx.AsyncClient) -> None:
    space, thread = await started(api)
    url = f"/v1/spaces/{space['id']}/events"
    cursor = (await client.get(url, params={"limit": 1})).json()["next_cursor"]
    assert (await client.get(url, params={"limit": 1, "cursor": cursor})).status_code == 200
    for other in ({"after": 0}, {"thread_id": thread["id"]}, {"types": "message.created"}):
        problem(await client.get(url, params={"cursor": cursor, **other}), 400, "invalid_cursor")


async def test_another_space_is_not_found(api: Api, client: httpx.AsyncClient) -> None:
    mine, theirs = await api.space("mine"), await api.space("theirs")
    await api.thread(theirs["id"], "hidden")
    key = await api.key(["read"], [mine["id"]])
    for path in ("events", "events/stream"):
        response = await client.get(f"/v1/spaces/{theirs['id']}/{path}", headers={"X-API-Key": key})
        problem(response, 404, "space_not_found")
    problem(
        await client.post(
            f"/v1/spaces/{theirs['id']}/events/stream-tokens", headers={"X-API-Key": key}
        ),
        404,
        "space_not_found",
    )
