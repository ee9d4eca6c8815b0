"""GET a thread is served by the request middleware itself (middleware.py's direct routes,
issue 11): it must answer exactly as its FastAPI route does, byte for byte, in every case."""

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import exc as sa_exc

from tests.helpers import ADMIN_SECRET, make_settings, started_app
from threads_api import middleware
from threads_api.thread.endpoints import get_thread_directly
from threads_api.thread.service import thread as thread_service

THREAD_PATH = "/v1/spaces/{space_id}/threads/{thread_id}"
Answer = tuple[int, list[tuple[bytes, bytes]], bytes]


async def call(app: Any, method: str, target: str, headers: dict[str, str]) -> Answer:
    """The raw ASGI answer (status, headers in the order sent, body) to `target`: a path,
    with a query string or without."""
    path, _, query = target.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1234),
        "server": ("test", 80),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    return sent[0]["status"], list(sent[0]["headers"]), sent[1]["body"]


@contextlib.contextmanager
def through_fastapi() -> Iterator[None]:
    """Requests take the FastAPI route, as before issue 11: the reference."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(middleware.direct_routes, "find", lambda method, path: None)
        yield


@contextlib.contextmanager
def counting_direct_answers() -> Iterator[list[str]]:
    """The paths of the requests the middleware served itself."""
    served: list[str] = []
    direct_route = middleware.RequestContextMiddleware._direct_route

    def spy(self: Any, scope: Any) -> Any:
        found = direct_route(self, scope)
        if found is not None:
            served.append(scope["path"])
        return found

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(middleware.RequestContextMiddleware, "_direct_route", spy)
        yield served


async def both_ways(app: Any, method: str, target: str, headers: dict[str, str]) -> Answer:
    """The answer served directly, checked equal to the FastAPI route's."""
    headers = {"X-Request-ID": "fast-path-test", **headers}
    with counting_direct_answers() as served:
        direct = await call(app, method, target, headers)
    assert served == [target.partition("?")[0]]
    with through_fastapi():
        reference = await call(app, method, target, headers)
    assert direct == reference, (method, target, headers)
    return direct


def test_the_direct_route_is_the_documented_get_thread() -> None:
    found = middleware.direct_routes.find("GET", "/v1/spaces/spc_a/threads/thr_b")
    assert found == (get_thread_directly, ["spc_a", "thr_b"], None)
    assert middleware.direct_routes.find("HEAD", "/v1/spaces/spc_a/threads/thr_b") == found
    for method in ("POST", "PATCH", "DELETE", "PUT", "OPTIONS"):
        assert middleware.direct_routes.find(method, "/v1/spaces/spc_a/threads/thr_b") is None
    # Shapes the route does not take are left to the router (or to another direct route).
    for path in (
        "/v1/spaces/spc_a/threads/",
        "/v1/spaces//threads/thr_b",
        "/v1/spaces/spc_a/threads/thr_b/",
        "/v1/spaces/spc_a/events/thr_b",
        "/v2/spaces/spc_a/threads/thr_b",
    ):
        assert middleware.direct_routes.find("GET", path) is None, path


async def test_documented_as_before(app: Any) -> None:
    operation = app.openapi()["paths"][THREAD_PATH]["get"]
    names = {(p["in"], p["name"]) for p in operation["parameters"]}
    assert names == {("path", "space_id"), ("path", "thread_id"), ("header", "if-none-match")}
    assert {"200", "304", "404"} <= set(operation["responses"])


async def test_answers_as_the_fastapi_route(app: Any, api) -> None:
    space, other = await api.space(), await api.space("other")
    thread = await api.thread(space["id"], "Hello\nthere", thread_metadata={"k": "ü"})
    elsewhere = await api.thread(other["id"])
    reader = await api.key(["read"], [space["id"]])
    writer = await api.key(["write"], [other["id"]])
    url = THREAD_PATH.format(space_id=space["id"], thread_id=thread["id"])
    admin = {"X-API-Key": ADMIN_SECRET}

    status, headers, _ = await both_ways(app, "GET", url, admin)
    assert status == 200
    etag = dict(headers)[b"etag"].decode()

    cases: list[tuple[str, str, dict[str, str], int]] = [
        ("HEAD", url, admin, 200),
        ("GET", url, {**admin, "If-None-Match": etag}, 304),
        ("HEAD", url, {**admin, "If-None-Match": etag}, 304),
        ("GET", url, {**admin, "If-None-Match": f"W/{etag}"}, 304),
        ("GET", url, {**admin, "If-None-Match": f'"other", {etag}'}, 304),
        ("GET", url, {**admin, "If-None-Match": "*"}, 304),
        ("GET", url, {**admin, "If-None-Match": '"other"'}, 200),
        ("GET", url, {"X-API-Key": reader}, 200),
        ("GET", url, {}, 401),
        ("GET", url, {"X-API-Key": ""}, 401),
        ("GET", url, {"X-API-Key": "tk_wrong_key_000000000000"}, 401),
        ("HEAD", url, {}, 401),
        # Visibility: a malformed id, a space that does not exist, another key's space.
        ("GET", THREAD_PATH.format(space_id="spc_nope", thread_id=thread["id"]), admin, 404),
        ("GET", THREAD_PATH.format(space_id="spc_" + "0" * 26, thread_id="thr_x"), admin, 404),
        ("GET", url, {"X-API-Key": writer}, 404),
        ("GET", url.replace(thread["id"], "messages"), admin, 404),
        ("GET", url.replace(thread["id"], "thr_" + "0" * 26), admin, 404),
        ("GET", url.replace(thread["id"], elsewhere["id"]), admin, 404),
        ("GET", url.replace(thread["id"], elsewhere["id"]), {"X-API-Key": reader}, 404),
        ("HEAD", url.replace(thread["id"], "thr_nope"), admin, 404),
    ]
    for method, path, headers_in, expected in cases:
        status, _, _ = await both_ways(app, method, path, headers_in)
        assert status == expected, (method, path, headers_in)


async def test_a_generated_request_id_is_32_hex_digits(app: Any, api) -> None:
    space = await api.space()
    thread = await api.thread(space["id"])
    url = THREAD_PATH.format(space_id=space["id"], thread_id=thread["id"])
    ids = set()
    for _ in range(3):
        status, headers, _ = await call(app, "GET", url, {"X-API-Key": ADMIN_SECRET})
        assert status == 200
        ids.add(dict(headers)[b"x-request-id"].decode())
    assert len(ids) == 3
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (sa_exc.OperationalError("SELECT", {}, Exception("gone")), 503),
        (RuntimeError("a bug"), 500),
    ],
)
async def test_failures_answer_as_the_fastapi_route(
    app: Any, api, monkeypatch: pytest.MonkeyPatch, error: Exception, status: int
) -> None:
    space = await api.space()
    thread = await api.thread(space["id"])
    url = THREAD_PATH.format(space_id=space["id"], thread_id=thread["id"])

    async def failing(*args: Any) -> bytes:
        raise error

    monkeypatch.setattr(thread_service, "read_json", failing)
    answer = await both_ways(app, "GET", url, {"X-API-Key": ADMIN_SECRET})
    assert answer[0] == status


async def test_not_served_directly_under_cors(database_url: str, api) -> None:
    """CORS is a middleware between ours and the router: what it adds must not be skipped."""
    settings = make_settings(database_url, cors_origins=["https://app.example"])
    async with started_app(settings) as cors_app:
        # The `api` fixture's app shares the database: the thread is made there.
        space = await api.space()
        thread = await api.thread(space["id"])
        url = THREAD_PATH.format(space_id=space["id"], thread_id=thread["id"])
        for origin in ({}, {"Origin": "https://app.example"}):
            headers = {"X-API-Key": ADMIN_SECRET, **origin}
            with counting_direct_answers() as served:
                status, answer_headers, _ = await call(cors_app, "GET", url, headers)
            assert served == []
            assert status == 200
            assert b"vary" in dict(answer_headers)
