"""A message's earlier versions, and the thread's `last_message` kept current by every change."""

from typing import Any

import httpx
from sqlalchemy import event

from tests.helpers import Api, problem
from tests.message.support import first_message, message_url, thread_url
from threads_api.state import app_state


async def arrange(api: Api) -> tuple[dict[str, Any], dict[str, Any]]:
    space = await api.space()
    thread = await api.thread(space["id"], "v1", metadata={"n": "1"})
    return thread, await first_message(api.http, thread)


async def edit(client: httpx.AsyncClient, message: dict[str, Any], **patch: Any) -> dict[str, Any]:
    response = await client.patch(message_url(message), json=patch)
    assert response.status_code == 200, response.text
    edited: dict[str, Any] = response.json()
    return edited


async def test_versions_are_the_earlier_ones_newest_first(
    api: Api, client: httpx.AsyncClient
) -> None:
    _, message = await arrange(api)
    v2 = await edit(client, message, content="v2", metadata={"n": "2"})
    v3 = await edit(client, message, content="v3")

    response = await client.get(f"{message_url(message)}/versions")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "list" and body["has_more"] is False
    assert body["data"] == [
        {
            "object": "message_version",
            "message_id": message["id"],
            "version": 2,
            "content": "v2",
            "metadata": {"n": "2"},
            "created_at": v2["edited_at"],
        },
        {
            "object": "message_version",
            "message_id": message["id"],
            "version": 1,
            "content": "v1",
            "metadata": {"n": "1"},
            "created_at": message["created_at"],
        },
    ]
    assert v3["version"] == 3 and v3["content"] == "v3"


async def test_versions_page_with_signed_cursors(api: Api, client: httpx.AsyncClient) -> None:
    _, message = await arrange(api)
    for n in range(2, 7):
        await edit(client, message, content=f"v{n}")
    url = f"{message_url(message)}/versions"

    seen: list[int] = []
    page = (await client.get(url, params={"limit": 2})).json()
    response = None
    while True:
        seen += [v["version"] for v in page["data"]]
        if not page["has_more"]:
            break
        response = await client.get(url, params={"limit": 2, "cursor": page["next_cursor"]})
        page = response.json()

    assert seen == [5, 4, 3, 2, 1]
    first = await client.get(url, params={"limit": 2})
    assert 'rel="next"' in first.headers["link"]
    cursor = first.json()["next_cursor"]
    problem(await client.get(url, params={"cursor": cursor + "x"}), 400, "invalid_cursor")


async def test_a_cursor_of_another_message_is_refused(api: Api, client: httpx.AsyncClient) -> None:
    thread, message = await arrange(api)
    other = await api.message(thread["space_id"], thread["id"], "o1")
    for n in (2, 3):
        await edit(client, message, content=f"v{n}")
        await edit(client, other, content=f"o{n}")
    cursor = (await client.get(f"{message_url(message)}/versions", params={"limit": 1})).json()[
        "next_cursor"
    ]

    response = await client.get(f"{message_url(other)}/versions", params={"cursor": cursor})

    problem(response, 400, "invalid_cursor")


async def test_last_message_follows_creates(api: Api, client: httpx.AsyncClient) -> None:
    thread, message = await arrange(api)
    assert thread["last_message"] == {
        "id": message["id"],
        "seq": 1,
        "author": None,
        "preview": "v1",
        "created_at": message["created_at"],
    }

    second = await api.message(thread["space_id"], thread["id"], "x" * 250)

    after = (await client.get(thread_url(thread))).json()
    assert after["last_message"] == {
        "id": second["id"],
        "seq": 2,
        "author": None,
        "preview": "x" * 200,
        "created_at": second["created_at"],
    }
    assert after["last_message"]["created_at"] == after["last_message_at"]


async def test_the_preview_counts_characters(api: Api, client: httpx.AsyncClient) -> None:
    thread, _ = await arrange(api)
    text = "é🙂" * 150

    await api.message(thread["space_id"], thread["id"], text)

    preview = (await client.get(thread_url(thread))).json()["last_message"]["preview"]
    assert preview == text[:200]
    assert len(preview) == 200


async def test_editing_the_last_message_updates_the_preview(
    api: Api, client: httpx.AsyncClient
) -> None:
    thread, message = await arrange(api)
    before = await client.get(thread_url(thread))

    await edit(client, message, content="v1, edited")

    after = await client.get(thread_url(thread))
    assert after.json()["last_message"]["preview"] == "v1, edited"
    assert after.json()["updated_at"] > before.json()["updated_at"]
    assert after.headers["etag"] != before.headers["etag"]
    listed = (await client.get(f"/v1/spaces/{thread['space_id']}/threads")).json()["data"]
    assert listed[0]["last_message"]["preview"] == "v1, edited"


async def test_editing_an_older_message_leaves_the_thread_alone(
    api: Api, client: httpx.AsyncClient
) -> None:
    thread, message = await arrange(api)
    await api.message(thread["space_id"], thread["id"], "newer")
    before = await client.get(thread_url(thread))

    await edit(client, message, content="v1, edited")

    after = await client.get(thread_url(thread))
    assert after.json() == before.json()
    assert after.headers["etag"] == before.headers["etag"]


async def test_thread_list_shows_last_message_of_each_thread(
    api: Api, client: httpx.AsyncClient
) -> None:
    space = await api.space()
    threads = [await api.thread(space["id"], f"thread {n}") for n in range(3)]
    reply = await api.message(space["id"], threads[0]["id"], "reply to 0")

    listed = (await client.get(f"/v1/spaces/{space['id']}/threads")).json()["data"]

    previews = {t["id"]: t["last_message"]["preview"] for t in listed}
    assert previews == {
        threads[0]["id"]: "reply to 0",
        threads[1]["id"]: "thread 1",
        threads[2]["id"]: "thread 2",
    }
    assert listed[0]["last_message"]["id"] == reply["id"]


async def test_a_page_of_threads_is_one_query_with_no_message_reads(
    api: Api, client: httpx.AsyncClient, app: Any
) -> None:
    space = await api.space()
    for n in range(30):
        thread = await api.thread(space["id"], f"thread {n}")
        await api.message(space["id"], thread["id"], f"reply {n}")
    await client.get(f"/v1/spaces/{space['id']}/threads")  # warm the key and space caches
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    # Pages are read on plain connections (reads.py); anything else would use the engines.
    database = app_state(app).database
    database.reads.observers.append(statements.append)
    event.listen(database.read_engine.sync_engine, "before_cursor_execute", record)
    try:
        page = await client.get(f"/v1/spaces/{space['id']}/threads", params={"limit": 30})
    finally:
        event.remove(database.read_engine.sync_engine, "before_cursor_execute", record)
        database.reads.observers.remove(statements.append)

    assert page.status_code == 200
    assert all(t["last_message"]["preview"].startswith("reply") for t in page.json()["data"])
    assert [s for s in statements if "FROM threads" in s and "messages" not in s] != []
    assert [s for s in statements if "messages" in s] == []
    assert len([s for s in statements if "FROM threads" in s]) == 1
