"""Hostile input (issue 5, item 3) over every body, path and query parameter.

Each hostile request gets a problem document (application/problem+json) of at most 4 KiB
that never echoes the input, and never a 500; valid but unusual text round-trips exactly.
The operations come from the app's own OpenAPI document.
"""

import json
import socket
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.helpers import ADMIN_SECRET
from tests.reliability.operations import ID_PREFIXES, Operation, v1_operations

MARKER = "ECHO7q"  # planted in hostile values so that an echo can be spotted
MAX_PROBLEM_BYTES = 4096
PROBLEM_KEYS = {"type", "title", "status", "detail", "code", "request_id"}


def assert_problem(response: httpx.Response, status: int | set[int], marker: str = MARKER) -> None:
    statuses = {status} if isinstance(status, int) else status
    request = f"{response.request.method} {response.request.url}"[:200]
    assert response.status_code in statuses, (request, response.status_code, response.text[:500])
    assert response.headers["content-type"] == "application/problem+json", request
    assert len(response.content) <= MAX_PROBLEM_BYTES, (request, len(response.content))
    body = response.json()
    assert body.keys() >= PROBLEM_KEYS, (request, body)
    assert body["status"] == response.status_code
    # The one thing of the request a problem may name is where the error is: `loc` holds
    # field names (an unknown field, a metadata key), cut to 100 characters. Never a value.
    for error in body.get("errors", []):
        assert all(len(str(part)) <= 100 for part in error["loc"]), (request, error)
        error["loc"] = [part for part in error["loc"] if marker not in str(part)]
    assert marker not in str(body), (request, response.text[:500])
    assert marker not in response.headers.get("location", "")


@pytest.fixture
async def ids(api: Any) -> dict[str, str]:
    space = await api.space("hostile")
    thread = await api.thread(space["id"], "first")
    message = await api.message(space["id"], thread["id"], "second")
    key = await api.http.post(
        "/v1/api-keys", json={"name": "k", "scopes": ["read"], "space_ids": [space["id"]]}
    )
    webhook = await api.http.post("/v1/webhooks", json={"url": "https://example.com/hook"})
    return {
        "space_id": space["id"],
        "thread_id": thread["id"],
        "message_id": message["id"],
        "key_id": key.json()["id"],
        "webhook_id": webhook.json()["id"],
        "delivery_id": "dlv_01M8E3VXFJW1RA7ERYFSZFVZVB",  # none such: 404, as it should
    }


def operations(app: Any) -> list[Operation]:
    return v1_operations(app.openapi())


def body_operations(app: Any) -> list[Operation]:
    found = [op for op in operations(app) if op.body_schema is not None]
    assert len(found) >= 6
    return found


# --- bodies --------------------------------------------------------------------------------

DEEP = 100_000
RAW_BODIES: list[tuple[str, bytes, int]] = [
    ("truncated", b'{"content": "' + MARKER.encode(), 400),
    ("empty", b"", 400),
    ("whitespace", b"   \n", 400),
    ("trailing garbage", b'{"content": "x"} ' + MARKER.encode(), 400),
    ("single quotes", f"{{'content': '{MARKER}'}}".encode(), 400),
    ("non-utf8", b'{"content": "' + MARKER.encode() + b'\xff\xfe\xc3\x28"}', 400),
    ("utf-16", f'{{"content": "{MARKER}"}}'.encode("utf-16"), 400),
    ("NaN", b'{"content": NaN, "x": "' + MARKER.encode() + b'"}', {400, 422}),
    ("deep arrays", b"[" * DEEP + b"]" * DEEP, {400, 422}),
    ("deep objects", b'{"a":' * DEEP + b"1" + b"}" * DEEP, {400, 422}),
    ("top-level array", f'["{MARKER}"]'.encode(), 422),
    ("top-level null", b"null", 422),
    ("top-level string", f'"{MARKER}"'.encode(), 422),
    ("top-level number", b"12345", 422),
    ("lone surrogate", f'{{"content": "{MARKER}\\ud800"}}'.encode(), 422),
    ("escaped NUL", f'{{"content": "{MARKER}\\u0000"}}'.encode(), 422),
    ("unknown field", f'{{"{MARKER}": 1}}'.encode(), 422),
]


async def test_malformed_bodies_get_problems(app: Any, client: httpx.AsyncClient, ids: Any):
    for op in body_operations(app):
        for name, raw, status in RAW_BODIES:
            response = await client.request(
                op.method,
                op.url(ids),
                content=raw,
                headers={"Content-Type": "application/json"},
            )
            assert_problem(response, status if isinstance(status, set) else {status})
            assert name  # the case name shows in the traceback


WRONG_CONTENT_TYPES = [
    None,
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/xml",
    "application/json-seq",
    f"application/{MARKER}",
]


async def test_wrong_content_types_are_415(app: Any, client: httpx.AsyncClient, ids: Any):
    for op in body_operations(app):
        body = op.body(ids)
        assert body is not None
        content = str(body).encode()
        for content_type in WRONG_CONTENT_TYPES:
            request = client.build_request(op.method, op.url(ids), content=content)
            if content_type is not None:
                request.headers["Content-Type"] = content_type
            assert request.headers.get("content-type") == content_type
            assert_problem(await client.send(request), 415)


def string_fields(document: dict[str, Any], schema_name: str) -> list[str]:
    schema = document["components"]["schemas"][schema_name]
    names = []
    for name, sub in schema["properties"].items():
        options = sub.get("anyOf", [sub])
        if any(option.get("type") == "string" for option in options):
            names.append(name)
    return names


async def send_json(client: httpx.AsyncClient, op: Operation, ids: Any, body: Any):
    # json.dumps (ASCII) keeps lone surrogates as \u escapes, which is how they arrive.
    return await client.request(
        op.method,
        op.url(ids),
        content=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )


BAD_TEXT = {
    "NUL": f"{MARKER}\x00",
    "lone high surrogate": f"{MARKER}\ud800",
    "lone low surrogate": f"\udfff{MARKER}",
    "too long": MARKER * 6000,
}


async def test_bad_text_in_every_string_field_is_422(app: Any, client: httpx.AsyncClient, ids):
    document = app.openapi()
    tried = 0
    for op in body_operations(app):
        fields = string_fields(document, op.body_schema)
        for field in fields:
            for name, value in BAD_TEXT.items():
                body = {**op.body(ids), field: value}
                response = await send_json(client, op, ids, body)
                assert_problem(response, 422)
                tried += 1
                assert name
        for value in BAD_TEXT.values():
            if "metadata" in document["components"]["schemas"][op.body_schema]["properties"]:
                for metadata in ({value: "v"}, {"k": value}):
                    body = {**op.body(ids), "metadata": metadata}
                    response = await send_json(client, op, ids, body)
                    assert_problem(response, 422)
                    tried += 1
    assert tried >= 60


VALID_TEXT = [
    "'; DROP TABLE messages; --",
    "1' OR '1'='1",
    'Robert"); DELETE FROM threads WHERE ("1"="1',
    "\u202eRTL override\u202c and \u200f mark",
    "emoji 👩‍👩‍👧‍👦 🏳️‍🌈 😀",
    "combining e\u0301 a\u0308\u0308\u0308 Z\u0351\u0352\u0353",
    "zero width \u200b\u200c\u200d\ufeff",
    "astral 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 \U0010fffd",
    "<script>alert(1)</script> %00 %s %n {{7*7}} ${jndi:x}",
    "tabs\tand\nnewlines\r\n",
    "\\u0000 as text, not a NUL",
]


async def test_unusual_valid_text_round_trips(client: httpx.AsyncClient, ids: Any) -> None:
    space = f"/v1/spaces/{ids['space_id']}"
    for text in VALID_TEXT:
        created = await client.post(
            f"{space}/threads/messages",
            json={"content": text, "title": text, "author": text, "metadata": {text[:64]: text}},
        )
        assert created.status_code == 201, (text, created.text)
        thread, message = created.json()["thread"], created.json()["message"]
        assert (thread["title"], message["content"], message["author"]) == (text, text, text)
        assert message["metadata"] == {text[:64]: text}
        read = await client.get(f"{space}/threads/{thread['id']}/messages/{message['id']}")
        assert read.json()["content"] == text
        assert read.json()["author"] == text
        fetched = await client.get(f"{space}/threads/{thread['id']}")
        assert fetched.json()["title"] == text
        renamed = await client.patch(f"{space}", json={"name": text})
        assert renamed.status_code == 200 and renamed.json()["name"] == text


# --- paths ---------------------------------------------------------------------------------

HOSTILE_IDS = [
    f"{MARKER}%00",
    f"spc_{MARKER}%00",
    "%00",
    f"{MARKER}" + "A" * 8192,
    f"' OR 1=1 --{MARKER}",
    f"{MARKER}%27%3B%20DROP%20TABLE%20spaces",
    f"{MARKER}%E2%80%AE",
    f"{MARKER}%F0%9F%98%80",
    f"{MARKER}%ff%fe",
    f"{MARKER}%ED%A0%80",  # an encoded surrogate
    f"..%2F..%2F{MARKER}",
    "spc_" + "0" * 26,
    "thr_" + "Z" * 26,
]


async def test_hostile_path_ids_are_404(app: Any, client: httpx.AsyncClient, ids: Any) -> None:
    tried = 0
    for op in operations(app):
        for name in op.params:
            for hostile in HOSTILE_IDS:
                response = await client.request(
                    op.method, op.url({**ids, name: hostile}), json=op.body(ids)
                )
                assert_problem(response, 404)
                tried += 1
    assert tried >= 100
    assert set(ID_PREFIXES) >= {n for op in operations(app) for n in op.params}


# --- query parameters ----------------------------------------------------------------------

QUERY_CASES: list[tuple[str, str, int]] = [
    ("limit", "10" * 40, 422),
    ("limit", "-1", 422),
    ("limit", "0", 422),
    ("limit", "201", 422),
    ("limit", "1e3", 422),
    ("limit", f"{MARKER}", 422),
    ("limit", "", 422),
    ("cursor", f"{MARKER}", 400),
    ("cursor", "", 400),
    ("cursor", f"{MARKER}." * 2000, 400),
    ("cursor", f"W10.{MARKER}", 400),
    ("cursor", f"eyJ4IjoxfQ.{MARKER}", 400),
    ("cursor", f"' OR 1=1 --{MARKER}", 400),
    ("cursor", f"{MARKER}\u202e\U0001f600", 400),
    ("cursor", f"{MARKER}\x00", 400),
    ("status", f"{MARKER}", 422),
    ("sort", f"{MARKER}", 422),
    ("order", f"{MARKER}", 422),
    ("after_seq", "-1", 422),
    ("after_seq", "9" * 40, 422),
    ("after_seq", f"{MARKER}", 422),
]


async def test_hostile_query_parameters(app: Any, client: httpx.AsyncClient, ids: Any) -> None:
    tried = 0
    for op in operations(app):
        declared = {p["name"] for p in op.spec.get("parameters", []) if p["in"] == "query"}
        for name, value, status in QUERY_CASES:
            if name in declared:
                response = await client.request(op.method, op.url(ids), params={name: value})
                assert_problem(response, status)
                tried += 1
    assert tried >= 40


async def test_garbage_idempotency_keys_are_400(app: Any, client: httpx.AsyncClient, ids) -> None:
    idempotent = [
        op
        for op in body_operations(app)
        if any(p["name"] == "Idempotency-Key" for p in op.spec.get("parameters", []))
    ]
    # Every create; not a secret's rotation, which a retry must never repeat or replay.
    assert len(idempotent) == 5
    for op in idempotent:
        for key in ("x" * 256, f"{MARKER}\u00e9", f"{MARKER}\tx", f"{MARKER}\x7f"):
            response = await client.request(
                op.method,
                op.url(ids),
                json=op.body(ids),
                headers={"Idempotency-Key": key.encode()},
            )
            assert_problem(response, 400)


async def test_garbage_api_keys_are_401(app: Any, client: httpx.AsyncClient, ids: Any) -> None:
    for op in operations(app):
        for secret in (f"{MARKER}", "", f"' OR 1=1 --{MARKER}", f"tk_{MARKER}" * 500):
            request = client.build_request(op.method, op.url(ids), json=op.body(ids))
            request.headers["X-API-Key"] = secret
            assert_problem(await client.send(request), 401)


# --- size limits, on a real server ---------------------------------------------------------


async def test_bodies_over_the_limit_are_413(app: Any, client: httpx.AsyncClient, ids) -> None:
    big = b'{"content": "' + MARKER.encode() * 200_000 + b'"}'  # 1.2 MB, over the 1 MiB default
    for op in body_operations(app):
        response = await client.request(
            op.method, op.url(ids), content=big, headers={"Content-Type": "application/json"}
        )
        assert_problem(response, 413)


def _raw_request(url: str, head: str, chunks: list[bytes], timeout: float = 10) -> bytes:
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(head.encode("latin-1"))
        try:
            for chunk in chunks:
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before the body was all sent: good
        data = b""
        while True:
            try:
                piece = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not piece:
                break
            data += piece
            if b"\r\n\r\n" in data:
                head_end = data.index(b"\r\n\r\n") + 4
                length = [
                    int(line.split(b":", 1)[1])
                    for line in data[:head_end].lower().split(b"\r\n")
                    if line.startswith(b"content-length:")
                ]
                if length and len(data) >= head_end + length[0]:
                    break
        return data


def _parse(raw: bytes) -> httpx.Response:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = [tuple(line.split(": ", 1)) for line in lines[1:]]
    response = httpx.Response(status, headers=headers, content=body)
    response.request = httpx.Request("POST", "http://server/")
    return response


@pytest.mark.slow
def test_real_server_refuses_big_bodies_with_and_without_length(
    database_url: str, server_factory: Any
) -> None:
    server = server_factory(database_url, env={"THREADS_API_MAX_BODY_BYTES": "65536"})
    with httpx.Client(base_url=server.url, headers={"X-API-Key": ADMIN_SECRET}) as admin:
        space = admin.post("/v1/spaces", json={"name": "s"}).json()["id"]
        thread = admin.post(f"/v1/spaces/{space}/threads/messages", json={"content": "x"})
        thread_id = thread.json()["thread"]["id"]
    path = f"/v1/spaces/{space}/threads/{thread_id}/messages"
    host = urlsplit(server.url).netloc
    common = f"Host: {host}\r\nX-API-Key: {ADMIN_SECRET}\r\nContent-Type: application/json\r\n"
    chunk = MARKER.encode() * 1000  # 6 KB
    # Declared too big: refused before any of it is read.
    raw = _raw_request(
        server.url, f"POST {path} HTTP/1.1\r\n{common}Content-Length: 10000000\r\n\r\n", []
    )
    assert_problem(_parse(raw), 413)
    # Chunked, no Content-Length, 12 MB: refused once the limit is crossed.
    chunks = [b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(2000)] + [b"0\r\n\r\n"]
    raw = _raw_request(
        server.url, f"POST {path} HTTP/1.1\r\n{common}Transfer-Encoding: chunked\r\n\r\n", chunks
    )
    assert_problem(_parse(raw), 413)
    # An 8 KiB path on the real server: a 404 problem, no echo.
    raw = _raw_request(
        server.url, f"GET /v1/spaces/{MARKER}{'A' * 8192} HTTP/1.1\r\n{common}\r\n", []
    )
    assert_problem(_parse(raw), 404)
    # The server still serves.
    assert httpx.get(f"{server.url}/healthz").status_code == 200
