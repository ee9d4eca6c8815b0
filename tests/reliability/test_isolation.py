"""Isolation matrix (issue 5, item 2), generated from the app's own route table.

Every /v1 operation in the OpenAPI document is exercised: a new route gets the same
treatment, or fails here until it has a sample body and path ids. Space B is the victim;
the keys under test belong to space A.
"""

import secrets
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.helpers import ADMIN_SECRET
from tests.reliability.operations import ID_PREFIXES, Operation, v1_operations
from threads_api.kit.ids import ALPHABET

PROBLEM_FIELDS = ("type", "title", "status", "code", "detail")

# Plausible values for server-owned fields, so that only their presence is wrong.
OWNED_SAMPLES: dict[str, Any] = {
    "id": "thr_01M8E3VXFJW1RA7ERYFSZFVZVB",
    "space_id": "spc_01M8E3VXEC4332GQ9B8Y3WXY53",
    "thread_id": "thr_01M8E3VXFJW1RA7ERYFSZFVZVB",
    "seq": 1,
    "message_count": 0,
    "status": "open",
    "created_at": "2026-11-27T10:15:30.123456Z",
    "updated_at": "2026-11-27T10:15:30.123456Z",
    "last_message_at": "2026-11-27T10:15:30.123456Z",
    "archived_at": None,
    "revoked_at": None,
    "last_used_at": None,
    "prefix": "tk_abcd",
    "secret": "tk_" + "a" * 40,
}


def random_id(prefix: str) -> str:
    return f"{prefix}_" + "".join(secrets.choice(ALPHABET[:8]) for _ in range(26))


async def send(
    http: httpx.AsyncClient, op: Operation, ids: dict[str, str], key: str | None, **kwargs: Any
) -> httpx.Response:
    """`op` with `key` alone (None: no X-API-Key at all), whatever the client's defaults."""
    request = http.build_request(op.method, op.url(ids), json=kwargs.pop("body", op.body(ids)))
    del request.headers["x-api-key"]
    if key is not None:
        request.headers["X-API-Key"] = key
    return await http.send(request)


def problem(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"] == "application/problem+json", response.text
    body = response.json()
    return {field: body[field] for field in PROBLEM_FIELDS}


@dataclass
class World:
    own: dict[str, str]  # ids in space A, which the keys under test can see
    victim: dict[str, str]  # ids in space B
    writer: str  # write key bound to A
    reader: str  # read key bound to A


@pytest.fixture
async def world(client: httpx.AsyncClient, api: Any) -> World:
    a, b = await api.space("a"), await api.space("b")
    ids: dict[str, dict[str, str]] = {}
    for name, space in (("own", a), ("victim", b)):
        thread = await api.thread(space["id"], "first", metadata={"k": "v"})
        message = await api.message(space["id"], thread["id"], "second")
        key = await client.post(
            "/v1/api-keys", json={"name": name, "scopes": ["read"], "space_ids": [space["id"]]}
        )
        webhook = await client.post(
            "/v1/webhooks", json={"url": "https://example.com/hook", "space_ids": [space["id"]]}
        )
        ids[name] = {
            "space_id": space["id"],
            "thread_id": thread["id"],
            "message_id": message["id"],
            "key_id": key.json()["id"],
            "webhook_id": webhook.json()["id"],
            # Webhooks are the admin's alone: the other keys are refused before any lookup.
            "delivery_id": random_id("dlv"),
        }
    return World(
        own=ids["own"],
        victim=ids["victim"],
        writer=await api.key(["write"], [a["id"]]),
        reader=await api.key(["read"], [a["id"]]),
    )


async def dump_space(client: httpx.AsyncClient, ids: dict[str, str]) -> list[tuple[str, bytes]]:
    """Every byte an admin can read of a space: the space, its threads, their messages."""
    space = f"/v1/spaces/{ids['space_id']}"
    paths = [space, f"{space}/threads?status=all&limit=200", f"/v1/api-keys/{ids['key_id']}"]
    threads = (await client.get(paths[1])).json()["data"]
    for thread in threads:
        paths += [f"{space}/threads/{thread['id']}", f"{space}/threads/{thread['id']}/messages"]
        messages = (await client.get(paths[-1], params={"limit": 200})).json()["data"]
        paths += [f"{space}/threads/{thread['id']}/messages/{m['id']}" for m in messages]
    dump = []
    for path in paths:
        response = await client.get(path)
        assert response.status_code == 200, (path, response.text)
        dump.append((path, response.content))
    return dump


def served_routes(routes: list[Any], prefix: str = "") -> set[tuple[str, str]]:
    """(method, path) of every route the router serves, through included routers."""
    served: set[tuple[str, str]] = set()
    for route in routes:
        if hasattr(route, "original_router"):  # FastAPI's wrapper of an included router
            inner = prefix + (route.include_context.prefix or "")
            served |= served_routes(route.original_router.routes, inner)
        elif getattr(route, "methods", None):
            served |= {(method, prefix + route.path) for method in route.methods}
    return served


async def test_route_table_is_covered(app: Any) -> None:
    """The matrix walks the document; the document holds every /v1 route the router serves."""
    served = {(m, p) for m, p in served_routes(app.routes) if p.startswith("/v1/")}
    assert len(served) >= 16
    documented = {(op.method, op.path) for op in v1_operations(app.openapi())}
    assert served == documented


async def test_isolation_matrix(app: Any, client: httpx.AsyncClient, world: World) -> None:
    before = await dump_space(client, world.victim)
    operations = v1_operations(app.openapi())
    failures: list[str] = []

    def expect(condition: bool, message: str) -> None:
        if not condition:
            failures.append(message)

    for op in operations:
        # No key, and a key nobody issued: 401, whatever the route.
        for key in (None, "tk_" + secrets.token_urlsafe(32)):
            response = await send(client, op, world.victim, key)
            expect(response.status_code == 401, f"{op} key={key!r}: {response.status_code}")
            if response.status_code == 401:
                expect(problem(response)["code"] == "unauthorized", f"{op}: {response.text}")

        if "space_id" in op.params:
            # A key of space A on space B's ids answers exactly as for ids that do not exist:
            # first with B's space, then inside A with B's threads, messages.
            cases = [(world.victim, {**world.victim, "space_id": random_id("spc")})]
            for name in op.params:
                if name != "space_id":
                    cases.append(
                        (
                            {**world.own, name: world.victim[name]},
                            {**world.own, name: random_id(ID_PREFIXES[name])},
                        )
                    )
            for key in (world.writer, world.reader):
                for foreign, missing in cases:
                    theirs = await send(client, op, foreign, key)
                    nobody = await send(client, op, missing, key)
                    # A read key that sees the space is refused a write before any thread
                    # is looked up (404 before 403 holds for spaces, api.md §9).
                    inside = foreign["space_id"] == world.own["space_id"]
                    expected = 403 if inside and op.is_write and key == world.reader else 404
                    expect(
                        theirs.status_code == expected,
                        f"{op} foreign {foreign}: {theirs.status_code} {theirs.text}",
                    )
                    expect(nobody.status_code == expected, f"{op} missing: {nobody.text}")
                    if theirs.status_code == nobody.status_code == expected:
                        expect(
                            problem(theirs) == problem(nobody),
                            f"{op}: {theirs.text} != {nobody.text}",
                        )
                        expect(
                            theirs.headers.get("content-length")
                            == nobody.headers.get("content-length"),
                            f"{op}: lengths differ",
                        )
        else:
            # Routes outside a space: only the admin manages spaces and keys; listing spaces
            # shows a key its own and nothing else.
            for key in (world.writer, world.reader):
                response = await send(client, op, world.victim, key)
                if (op.method, op.path) == ("GET", "/v1/spaces"):
                    listed = {s["id"] for s in response.json()["data"]}
                    expect(listed == {world.own["space_id"]}, f"{op}: sees {listed}")
                else:
                    expect(response.status_code == 403, f"{op}: {response.status_code}")

        # A read key may read but never write, in its own space.
        if op.is_write:
            response = await send(client, op, world.own, world.reader)
            expect(response.status_code == 403, f"{op} read key: {response.status_code}")
            if response.status_code == 403:
                expect(problem(response)["code"] == "forbidden", f"{op}: {response.text}")

    assert not failures, "\n".join(failures)
    assert await dump_space(client, world.victim) == before


def _properties(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The properties of a schema and of the objects nested in it, by name."""
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    found: dict[str, Any] = {}
    for name, sub in schema.get("properties", {}).items():
        found[name] = sub
        if "$ref" in sub:
            found.update(_properties(document, sub))
    return found


def server_owned_fields(document: dict[str, Any], op: Operation) -> set[str]:
    """What the response of a write carries that its request body may not set."""
    request = _properties(document, op.spec["requestBody"]["content"]["application/json"]["schema"])
    owned: set[str] = set()
    for status, response in op.spec["responses"].items():
        if status.startswith("2") and "application/json" in response.get("content", {}):
            owned |= set(_properties(document, response["content"]["application/json"]["schema"]))
    return owned - set(request)


async def test_bodies_cannot_set_server_owned_fields(
    app: Any, client: httpx.AsyncClient, world: World
) -> None:
    document = app.openapi()
    writes = [op for op in v1_operations(document) if op.body_schema is not None]
    assert writes
    tried = 0
    for op in writes:
        owned = server_owned_fields(document, op)
        assert {"id", "object", "created_at"} <= owned, (op, owned)
        for field in sorted(owned):
            body = {**op.body(world.own), field: OWNED_SAMPLES.get(field, "x")}
            if field == "object":
                body[field] = "thread"
            response = await send(client, op, world.own, ADMIN_SECRET, body=body)
            assert response.status_code == 422, (op, field, response.text)
            errors = response.json()["errors"]
            assert any(field in error["loc"] for error in errors), (op, field, errors)
            tried += 1
    assert tried >= 40
    # The valid bodies themselves pass, so the 422s above are for the extra field alone.
    for op in writes:
        if op.method == "POST":
            response = await send(client, op, world.own, ADMIN_SECRET)
            # A rotation makes no new resource: the webhook with its new secret, 200.
            created = not op.path.endswith("/rotate-secret")
            assert response.status_code == (201 if created else 200), (op, response.text)
