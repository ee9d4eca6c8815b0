"""The pages of threads and of messages are served by the request middleware itself for the
query strings it reads without FastAPI (middleware.py's direct routes, issue 11): those must
be answered exactly as the FastAPI routes answer them, and every other query string must be
left to the routes, which validate it."""

from typing import Any
from urllib.parse import quote

from tests.helpers import ADMIN_SECRET
from tests.thread.test_get_fast_path import both_ways, call, counting_direct_answers

ADMIN = {"X-API-Key": ADMIN_SECRET}


async def _arranged(api: Any) -> tuple[str, str, str, dict[str, str], dict[str, str]]:
    """(threads list, messages list, a message page's cursor, a reader's and a writer's
    headers) over a space of 5 threads, one with 7 messages, one archived."""
    space, other = await api.space(), await api.space("other")
    threads = [await api.thread(space["id"], f"thread {i}") for i in range(5)]
    for i in range(6):
        await api.message(space["id"], threads[0]["id"], f"message {i}")
    await api.http.delete(f"/v1/spaces/{space['id']}/threads/{threads[4]['id']}")
    threads_url = f"/v1/spaces/{space['id']}/threads"
    messages_url = f"{threads_url}/{threads[0]['id']}/messages"
    cursor = (await api.http.get(messages_url, params={"limit": 2})).json()["next_cursor"]
    reader = {"X-API-Key": await api.key(["read"], [space["id"]])}
    stranger = {"X-API-Key": await api.key(["read", "write"], [other["id"]])}
    return threads_url, messages_url, cursor, reader, stranger


async def test_pages_answer_as_the_fastapi_routes(app: Any, api: Any) -> None:
    threads_url, messages_url, cursor, reader, stranger = await _arranged(api)
    threads_cursor = (await api.http.get(threads_url, params={"limit": 2})).json()["next_cursor"]
    cases: list[tuple[str, str, dict[str, str], int]] = [
        ("GET", threads_url, ADMIN, 200),
        ("HEAD", threads_url, ADMIN, 200),
        ("GET", f"{threads_url}?limit=2", ADMIN, 200),
        ("GET", f"{threads_url}?limit=2&cursor={quote(threads_cursor)}", ADMIN, 200),
        ("GET", f"{threads_url}?status=all&sort=created_at&order=asc", reader, 200),
        ("GET", f"{threads_url}?status=archived", ADMIN, 200),
        ("GET", f"{threads_url}?limit=200&order=desc&status=open", ADMIN, 200),
        ("GET", f"{threads_url}?cursor=nonsense", ADMIN, 400),
        # The cursor of another list.
        ("GET", f"{threads_url}?cursor={quote(cursor)}", ADMIN, 400),
        ("GET", threads_url, {}, 401),
        ("GET", threads_url, stranger, 404),
        ("GET", "/v1/spaces/spc_nope/threads", ADMIN, 404),
        ("GET", messages_url, ADMIN, 200),
        ("HEAD", messages_url, reader, 200),
        ("GET", f"{messages_url}?limit=2&cursor={quote(cursor)}", ADMIN, 200),
        ("GET", f"{messages_url}?order=desc&limit=3", ADMIN, 200),
        ("GET", f"{messages_url}?after_seq=4", ADMIN, 200),
        ("GET", f"{messages_url}?after_seq=2147483647", ADMIN, 200),
        ("GET", f"{messages_url}?cursor={quote(threads_cursor)}", ADMIN, 400),
        ("GET", messages_url, {}, 401),
        ("GET", messages_url, stranger, 404),
        ("GET", messages_url.replace("/threads/thr_", "/threads/thr_0"), ADMIN, 404),
    ]
    for method, target, headers, expected in cases:
        status, _, _ = await both_ways(app, method, target, headers)
        assert status == expected, (method, target, headers)


async def test_query_strings_it_does_not_read_go_to_the_routes(app: Any, api: Any) -> None:
    threads_url, messages_url, _, _, _ = await _arranged(api)
    declined = [
        (f"{threads_url}?limit=0", 422),
        (f"{threads_url}?limit=201", 422),
        (f"{threads_url}?limit=abc", 422),
        (f"{threads_url}?limit=+5", 200),
        (f"{threads_url}?limit={'9' * 5000}", 422),
        (f"{threads_url}?limit=", 422),
        (f"{threads_url}?limit=2&limit=3", 200),
        (f"{threads_url}?status=deleted", 422),
        (f"{threads_url}?sort=title", 422),
        (f"{threads_url}?order=up", 422),
        (f"{threads_url}?unknown=1", 200),
        (f"{messages_url}?wait=0", 200),
        (f"{messages_url}?after_seq=2147483648", 422),
        (f"{messages_url}?after_seq=-1", 422),
        (f"{messages_url}?status=open", 200),
    ]
    for target, expected in declined:
        with counting_direct_answers() as served:
            status, _, _ = await call(app, "GET", target, ADMIN)
        assert served == [], target
        assert status == expected, target
