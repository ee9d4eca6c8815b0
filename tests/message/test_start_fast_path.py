"""POST …/threads/messages (a thread with its first message) is served by the request
middleware itself, as POST …/messages is (tests/message/test_post_fast_path.py): it must
answer exactly as its FastAPI route does, in every case."""

import json
import re
from typing import Any

from tests.helpers import ADMIN_SECRET
from tests.message.test_post_fast_path import Answer, both_ways, direct, reference
from threads_api import middleware
from threads_api.kit.etag import etag_of
from threads_api.message.direct import create_thread_with_message_directly
from threads_api.state import app_state

START_PATH = "/v1/spaces/{space_id}/threads/messages"
GOOD = b'{"content": "Hello\\nthere", "author": "bob", "title": "T", "thread_metadata": {"k": "v"}}'
# What differs between two starts of the same request: the ids and the time they were made.
_MADE = re.compile(rb'"(?:thr|msg)_[0-9A-Z]{26}"|"\d{4}-\d\d-\d\dT[0-9:.]+Z"')


def test_the_direct_route_is_the_documented_start() -> None:
    found = middleware.direct_routes.find("POST", "/v1/spaces/spc_a/threads/messages")
    assert found == (create_thread_with_message_directly, ["spc_a"], None)
    for method in ("PATCH", "PUT", "DELETE"):
        assert middleware.direct_routes.find(method, "/v1/spaces/spc_a/threads/messages") is None


def _started_alike(direct_answer: Answer, reference_answer: Answer) -> None:
    (status, headers, body), (ref_status, ref_headers, ref_body) = direct_answer, reference_answer
    assert status == ref_status == 201
    assert [k for k, _ in headers] == [k for k, _ in ref_headers]
    assert _MADE.sub(b"_", body) == _MADE.sub(b"_", ref_body)
    started, values = json.loads(body), dict(headers)
    assert values[b"location"].decode().endswith("/threads/" + started["thread"]["id"])
    assert values[b"etag"].decode() == etag_of(body)
    assert values[b"content-length"] == str(len(body)).encode()


async def test_starts_as_the_fastapi_route(app: Any, api: Any) -> None:
    space = await api.space()
    writer = await api.key(["write"], [space["id"]])
    url = START_PATH.format(space_id=space["id"])
    for headers, body in [
        ({"X-API-Key": ADMIN_SECRET}, GOOD),
        ({"X-API-Key": writer}, b'{"content": "  first line  \\nsecond"}'),
        ({"X-API-Key": ADMIN_SECRET, "Idempotency-Key": "fresh-1"}, GOOD),
    ]:
        made = await direct(app, url, headers, body)
        if "Idempotency-Key" in headers:
            headers = {**headers, "Idempotency-Key": "fresh-2"}
        _started_alike(made, await reference(app, url, headers, body))


async def test_replays_and_errors_answer_as_the_fastapi_route(app: Any, api: Any) -> None:
    space, other = await api.space(), await api.space("other")
    reader = await api.key(["read"], [space["id"]])
    writer_elsewhere = await api.key(["write"], [other["id"]])
    url = START_PATH.format(space_id=space["id"])
    admin: dict[str, str | None] = {"X-API-Key": ADMIN_SECRET}
    first = await reference(app, url, {**admin, "Idempotency-Key": "k1"}, GOOD)
    second = await direct(app, url, {**admin, "Idempotency-Key": "k2"}, GOOD)
    for key, made in (("k1", first), ("k2", second)):
        status, headers, replayed = await both_ways(
            app, url, {**admin, "Idempotency-Key": key}, GOOD
        )
        assert (status, replayed) == (201, made[2])
        assert (b"idempotent-replayed", b"true") in headers

    too_big = str(app_state(app).settings.max_body_bytes + 1)
    cases: list[tuple[str, dict[str, str | None], bytes, int]] = [
        (url, {}, GOOD, 401),
        (url, {**admin, "Content-Length": too_big}, GOOD, 413),
        (url, {**admin, "Content-Type": "text/plain"}, GOOD, 415),
        (url, admin, b"{not json", 400),
        (url.replace(space["id"], "spc_nope"), admin, b"null", 404),
        (url, {"X-API-Key": writer_elsewhere}, GOOD, 404),
        (url, {"X-API-Key": reader}, b"null", 403),
        (url, {**admin, "Idempotency-Key": ""}, b"null", 400),
        (url, {**admin, "Idempotency-Key": "k1"}, b'{"content": "other"}', 422),
        (url, admin, b"null", 422),
        (url, admin, b"[]", 422),
        (url, admin, b"{}", 422),
        (url, admin, b'{"content": "   "}', 422),
        (url, admin, b'{"content": "hi", "title": ""}', 422),
        (url, admin, json.dumps({"content": "hi", "title": "t" * 201}).encode(), 422),
        (url, admin, b'{"content": "hi", "thread_metadata": {"k": 1}}', 422),
        (url, admin, b'{"content": "hi", "metadata": {"k": 1}}', 422),
        (url, admin, b'{"content": "hi", "id": "thr_x"}', 422),
    ]
    for path, headers, body, expected in cases:
        status, _, _ = await both_ways(app, path, headers, body)
        assert status == expected, (path, headers, body[:80])
