"""POST a message is served by the request middleware itself (middleware.py's direct routes,
issue 11): it must answer exactly as its FastAPI route does, byte for byte, in every case:
each check of the contract's order (§9), FastAPI's own 422s, the idempotency answers."""

import json
from typing import Any

import pytest
from sqlalchemy import exc as sa_exc

from tests.helpers import ADMIN_SECRET
from tests.thread.test_get_fast_path import counting_direct_answers, through_fastapi
from threads_api import middleware
from threads_api.kit.etag import etag_of
from threads_api.message.direct import create_message_directly
from threads_api.message.service import message as message_service
from threads_api.state import app_state

MESSAGES_PATH = "/v1/spaces/{space_id}/threads/{thread_id}/messages"
Answer = tuple[int, list[tuple[bytes, bytes]], bytes]
GOOD = b'{"content": "hi", "author": "bob", "metadata": {"k": "v"}}'


async def call(app: Any, path: str, headers: list[tuple[str, str]], body: bytes) -> Answer:
    """The raw ASGI answer to a POST: status, headers in the order sent, body."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode("latin-1")) for k, v in headers],
        "client": ("127.0.0.1", 1234),
        "server": ("test", 80),
    }
    sent: list[dict[str, Any]] = []
    # In two chunks, as a client may send it.
    chunks = [body[: len(body) // 2], body[len(body) // 2 :]]

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": chunks.pop(0), "more_body": bool(chunks)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    return sent[0]["status"], list(sent[0]["headers"]), sent[1]["body"]


def request_headers(headers: dict[str, str | None], body: bytes) -> list[tuple[str, str]]:
    """JSON with its length and a fixed request id, unless `headers` says otherwise (None
    leaves a header out)."""
    defaults: dict[str, str | None] = {
        "X-Request-ID": "fast-path-test",
        "Content-Type": "application/json",
        "Content-Length": str(len(body)),
    }
    return [(k, v) for k, v in {**defaults, **headers}.items() if v is not None]


async def direct(app: Any, path: str, headers: dict[str, str | None], body: bytes) -> Answer:
    with counting_direct_answers() as served:
        answer = await call(app, path, request_headers(headers, body), body)
    assert served == [path]
    return answer


async def reference(app: Any, path: str, headers: dict[str, str | None], body: bytes) -> Answer:
    with through_fastapi():
        return await call(app, path, request_headers(headers, body), body)


async def both_ways(app: Any, path: str, headers: dict[str, str | None], body: bytes) -> Answer:
    """The answer served directly, checked equal to the FastAPI route's. Only for requests
    that change nothing (errors, replays): each answer must be the same bytes."""
    answer = await direct(app, path, headers, body)
    assert answer == await reference(app, path, headers, body), (path, headers, body)
    return answer


def test_the_direct_route_is_the_documented_create_message() -> None:
    path = "/v1/spaces/spc_a/threads/thr_b/messages"
    found = middleware.direct_routes.find("POST", path)
    assert found == (create_message_directly, ["spc_a", "thr_b"], None)
    for method in ("PATCH", "PUT", "DELETE"):
        assert middleware.direct_routes.find(method, path) is None, method
    for other in (
        "/v1/spaces/spc_a/threads/thr_b/messages/",
        "/v1/spaces/spc_a/threads//messages",
        "/v1/spaces/spc_a/threads/thr_b/messages/msg_c",
        "/v1/spaces/spc_a/threads/thr_b",
    ):
        assert middleware.direct_routes.find("POST", other) is None, other


async def test_documented_as_before(app: Any) -> None:
    operation = app.openapi()["paths"][MESSAGES_PATH]["post"]
    names = {(p["in"], p["name"]) for p in operation["parameters"]}
    assert names == {("path", "space_id"), ("path", "thread_id"), ("header", "Idempotency-Key")}
    assert {"201", "400", "403", "404", "409", "422"} <= set(operation["responses"])


def _created_alike(direct_answer: Answer, reference_answer: Answer) -> None:
    """Two creates answer alike but for what each made: its id, seq and time."""
    (status, headers, body), (ref_status, ref_headers, ref_body) = direct_answer, reference_answer
    assert status == ref_status == 201
    assert [k for k, _ in headers] == [k for k, _ in ref_headers]
    made, ref_made = json.loads(body), json.loads(ref_body)
    # The same bytes once the reference's id, seq and time are this one's.
    for name in ("id", "seq", "created_at"):
        field = json.dumps(name).encode() + b":"
        old, new = json.dumps(ref_made[name]).encode(), json.dumps(made[name]).encode()
        ref_body = ref_body.replace(field + old, field + new)
    assert body == ref_body
    values, ref_values = dict(headers), dict(ref_headers)
    assert values[b"location"].decode().endswith("/messages/" + made["id"])
    assert values[b"etag"].decode() == etag_of(body)
    assert values[b"content-length"] == str(len(body)).encode()
    assert values[b"content-type"] == ref_values[b"content-type"]


async def test_creates_as_the_fastapi_route(app: Any, api) -> None:
    space = await api.space()
    thread = await api.thread(space["id"])
    writer = await api.key(["write"], [space["id"]])
    url = MESSAGES_PATH.format(space_id=space["id"], thread_id=thread["id"])
    for headers, body in [
        ({"X-API-Key": ADMIN_SECRET}, GOOD),
        ({"X-API-Key": writer}, GOOD),
        ({"X-API-Key": ADMIN_SECRET}, '{"content": "ü\\n", "metadata": {}}'.encode()),
        ({"X-API-Key": ADMIN_SECRET, "Content-Type": "Application/JSON; charset=utf-8"}, GOOD),
        ({"X-API-Key": ADMIN_SECRET, "Content-Length": None}, GOOD),
        ({"X-API-Key": ADMIN_SECRET, "Idempotency-Key": "fresh-1"}, GOOD),
    ]:
        made = await direct(app, url, headers, body)
        if "Idempotency-Key" in headers:
            headers = {**headers, "Idempotency-Key": "fresh-2"}
        _created_alike(made, await reference(app, url, headers, body))


async def test_replays_as_the_fastapi_route(app: Any, api) -> None:
    """A key used on one way replays on the other: both bind it to the same request."""
    space = await api.space()
    thread = await api.thread(space["id"])
    url = MESSAGES_PATH.format(space_id=space["id"], thread_id=thread["id"])
    admin = {"X-API-Key": ADMIN_SECRET}
    first = await reference(app, url, {**admin, "Idempotency-Key": "k1"}, GOOD)
    second = await direct(app, url, {**admin, "Idempotency-Key": "k2"}, GOOD)
    for key, made in (("k1", first), ("k2", second)):
        # Another spelling of the same JSON is the same request.
        for body in (GOOD, json.dumps(json.loads(GOOD), indent=2).encode()):
            status, headers, replayed = await both_ways(
                app, url, {**admin, "Idempotency-Key": key}, body
            )
            assert (status, replayed) == (201, made[2])
            assert (b"idempotent-replayed", b"true") in headers
        # Reused for another request: 422.
        status, _, _ = await both_ways(
            app, url, {**admin, "Idempotency-Key": key}, b'{"content": "other"}'
        )
        assert status == 422


async def test_every_error_answers_as_the_fastapi_route(app: Any, api) -> None:
    space, other = await api.space(), await api.space("other")
    thread = await api.thread(space["id"])
    archived = await api.thread(space["id"])
    response = await api.http.delete(f"/v1/spaces/{space['id']}/threads/{archived['id']}")
    assert response.status_code == 200
    elsewhere = await api.thread(other["id"])
    reader = await api.key(["read"], [space["id"]])
    writer_elsewhere = await api.key(["write"], [other["id"]])
    url = MESSAGES_PATH.format(space_id=space["id"], thread_id=thread["id"])
    admin: dict[str, str | None] = {"X-API-Key": ADMIN_SECRET}
    too_big = str(app_state(app).settings.max_body_bytes + 1)
    long_content = json.dumps({"content": "x" * 32769}).encode()
    seventeen_keys = {str(i): "v" for i in range(17)}

    cases: list[tuple[str, dict[str, str | None], bytes, int]] = [
        # 401 before everything else.
        (url, {}, GOOD, 401),
        (url, {"X-API-Key": ""}, GOOD, 401),
        (url, {"X-API-Key": "tk_wrong_key_000000000000"}, b"{not json", 401),
        (url, {"Content-Length": too_big}, GOOD, 401),
        # 413: declared, malformed declaration, or counted.
        (url, {**admin, "Content-Length": too_big, "Content-Type": "text/plain"}, GOOD, 413),
        (url, {**admin, "Content-Length": "-1"}, GOOD, 413),
        (
            url,
            {**admin, "Content-Length": None},
            b" " * (app_state(app).settings.max_body_bytes + 1),
            413,
        ),
        # 415, then 400.
        (url, {**admin, "Content-Type": "text/plain"}, b"{not json", 415),
        (url, {**admin, "Content-Type": None}, GOOD, 415),
        (url, {**admin, "Content-Type": "application/merge-patch+json"}, GOOD, 415),
        (url, admin, b"{not json", 400),
        (url, admin, b"", 400),
        (url, admin, b'{"content": "\xff"}', 400),
        (url, admin, b"[" * 100_000, 400),
        # 400 before visibility.
        (url.replace(space["id"], "spc_nope"), admin, b"{", 400),
        # Visibility (404) before scope (403) before the key (400) before the body (422).
        (url.replace(space["id"], "spc_nope"), admin, b"null", 404),
        (url.replace(space["id"], "spc_" + "0" * 26), admin, GOOD, 404),
        (url, {"X-API-Key": writer_elsewhere}, b"null", 404),
        (url, {"X-API-Key": reader}, b"null", 403),
        (url, {"X-API-Key": reader, "Idempotency-Key": ""}, GOOD, 403),
        (url, {**admin, "Idempotency-Key": ""}, b"null", 400),
        (url, {**admin, "Idempotency-Key": "x" * 256}, GOOD, 400),
        (url, {**admin, "Idempotency-Key": "tab\there"}, GOOD, 400),
        (url, {**admin, "Idempotency-Key": "é"}, GOOD, 400),
        # FastAPI's 422s: the body's shape, then its rules (§10).
        (url, admin, b"null", 422),
        (url, admin, b"[]", 422),
        (url, admin, b'[{"content": "hi"}]', 422),
        (url, admin, b'"hi"', 422),
        (url, admin, b"42", 422),
        (url, admin, b"true", 422),
        (url, admin, b"{}", 422),
        (url, admin, b'{"author": "bob"}', 422),
        (url, admin, b'{"content": "hi", "id": "msg_x", "seq": 1}', 422),
        (url, admin, b'{"content": null}', 422),
        (url, admin, b'{"content": 1, "author": 2, "metadata": []}', 422),
        (url, admin, b'{"content": "   "}', 422),
        (url, admin, b'{"content": "a\\u0000b"}', 422),
        (url, admin, b'{"content": "\\ud800"}', 422),
        (url, admin, long_content, 422),
        (url, admin, b'{"content": "hi", "author": ""}', 422),
        (url, admin, json.dumps({"content": "hi", "metadata": {"k": 1}}).encode(), 422),
        (url, admin, json.dumps({"content": "hi", "metadata": seventeen_keys}).encode(), 422),
        (url, admin, json.dumps({"content": "hi", "metadata": {"k" * 65: "v"}}).encode(), 422),
        # The body's rules before the thread's.
        (url.replace(thread["id"], "thr_nope"), admin, b"null", 422),
        # The thread (404), then its status (409).
        (url.replace(thread["id"], "thr_nope"), admin, GOOD, 404),
        (url.replace(thread["id"], "thr_" + "0" * 26), admin, GOOD, 404),
        (url.replace(thread["id"], "messages"), admin, GOOD, 404),
        (url.replace(thread["id"], elsewhere["id"]), admin, GOOD, 404),
        (url.replace(thread["id"], archived["id"]), admin, GOOD, 409),
        (url.replace(thread["id"], archived["id"]), {**admin, "Idempotency-Key": "a"}, GOOD, 409),
    ]
    for path, headers, body, expected in cases:
        status, _, _ = await both_ways(app, path, headers, body)
        assert status == expected, (path, headers, body[:80])


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (sa_exc.OperationalError("INSERT", {}, Exception("gone")), 503),
        (RuntimeError("a bug"), 500),
    ],
)
async def test_failures_answer_as_the_fastapi_route(
    app: Any, api, monkeypatch: pytest.MonkeyPatch, error: Exception, status: int
) -> None:
    space = await api.space()
    thread = await api.thread(space["id"])
    url = MESSAGES_PATH.format(space_id=space["id"], thread_id=thread["id"])

    def failing(*args: Any) -> Any:
        raise error

    monkeypatch.setattr(message_service, "create", failing)
    answer = await both_ways(app, url, {"X-API-Key": ADMIN_SECRET}, GOOD)
    assert answer[0] == status


async def test_a_client_gone_before_its_body_gets_no_answer_either_way(app: Any, api) -> None:
    space = await api.space()
    thread = await api.thread(space["id"])
    path = MESSAGES_PATH.format(space_id=space["id"], thread_id=thread["id"])
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (k.lower().encode(), v.encode())
            for k, v in request_headers({"X-API-Key": ADMIN_SECRET}, GOOD)
        ],
        "client": ("127.0.0.1", 1234),
        "server": ("test", 80),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    with counting_direct_answers() as served:
        await app(dict(scope), receive, send)
    assert served == [path]
    with through_fastapi():
        await app(dict(scope), receive, send)
    assert sent == []
