"""The ceiling: the benchmarked requests done by a bare ASGI app with the plain drivers.

It answers the benchmark's five requests (and their error cases) as the contract needs and
nothing more, with no framework, no SQLAlchemy, no Pydantic and no code from `threads_api`,
so that `ours / ceiling` reads as "the fraction of what the work costs". What it does, per
request, as the service does:

- `X-Request-ID` echoed or generated; one JSON log line per request on stderr (time, level,
  request_id, method, path, status, duration_ms, api_key_id);
- the API key: SHA-256 of the secret, looked up with its spaces unless a lookup of the last
  second is cached *and* the revocation poll (its own connection, every 30 ms) succeeded in
  the last 75 ms; `last_used_at` written at most once a minute; an admin's space checked once
  per process (spaces are never deleted); checks in the contract's order (401, 413, 415,
  400, 404, 403, 422);
- bodies validated by the field rules (lengths in code points, no NUL or lone surrogate,
  metadata limits, unknown fields refused);
- writes: the idempotency record looked up, claimed, and completed with the stored response,
  seq from the thread's counter, each created row's event appended to the change feed (§14;
  `CEILING_EVENTS=off` leaves it out), all in one write transaction, answered after its
  commit (WAL, synchronous=FULL); `Location`, `ETag` (SHA-256 of the body), replays with
  `Idempotent-Replayed`;
- reads: the same statements as the service, `ETag`/`If-None-Match` on a thread, signed
  keyset cursors bound to the list and a `Link` header on pages.

Where it is cheaper than the service by design (correct, and open to the service too): on
SQLite the default `group` mode group-commits writes (one COMMIT and fsync for the write
requests that queued meanwhile, a SAVEPOINT each, each answered after that COMMIT; `hybrid`
is the same with one COMMIT per request); on PostgreSQL reads run without BEGIN/COMMIT
(READ COMMITTED gives a transaction's statements no other snapshot), `lock_timeout` is set
per connection rather than twice per claim, and connections are not reset between requests.

What it does not do: HEAD, CORS, other routes, other list parameters than the ones the
benchmark sends (limit, cursor, order, after_seq; sort=last_message_at and the default
status filter for threads), detailed 422 `errors` (one generic entry), the service's
header-size and connection limits (the HTTP server's work, measured separately), the
idempotency-record purge, database-outage detection beyond "any driver error is a 503".

    CEILING_DATABASE_URL=sqlite:///bench/out/bench.db   (or postgresql://user@host:port/db)
    CEILING_MODE=group|hybrid|inline|thread|aiosqlite   (SQLite; see ceiling_db.py)
    CEILING_JSON=json|orjson     CEILING_LOG=line|batch|off
    CEILING_EVENTS=on|off        (creates append their events to the change feed, §14)
    uvicorn ceiling:app --app-dir bench --http httptools --loop uvloop --no-access-log
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ceiling_units as units
from ceiling_db import make_db
from ceiling_units import Created, Idem, Problem, Replay, etag

MODE = os.environ.get("CEILING_MODE", "group")
LOG = os.environ.get("CEILING_LOG", "line")
if os.environ.get("CEILING_JSON", "json") == "orjson":
    units.use_orjson()
units.use_events(os.environ.get("CEILING_EVENTS", "on") != "off")
DB = make_db(os.environ.get("CEILING_DATABASE_URL", "sqlite:///bench/out/bench.db"), MODE)
D = DB.dialect
CURSOR_SECRET = secrets.token_bytes(32)
MAX_BODY = 1024 * 1024
CACHE_TTL, TRUST, POLL = 1.0, 0.075, 0.030

REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
IDEMPOTENCY_KEY = re.compile(r"[\x20-\x7e]{1,255}")
BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
IDS = {p: re.compile(rf"{p}_[0-9A-HJKMNP-TV-Z]{{26}}") for p in ("spc", "thr")}
JSON_TYPE = [(b"content-type", b"application/json")]


# --- auth: the service's cache model (auth/cache.py, auth/watcher.py) -----------------------


class Principals:
    def __init__(self) -> None:
        self.entries: dict[str, tuple[float, tuple[str, frozenset[str], frozenset[str]]]] = {}
        self.trusted_until = float("-inf")
        self.seen: Any = object()
        self.known_spaces: set[str] = set()

    async def watch(self) -> None:
        while True:
            started = time.monotonic()
            with contextlib.suppress(Exception):
                value = await DB.poll(units.revocation_count())
                if value != self.seen:
                    self.seen = value
                    self.entries.clear()
                self.trusted_until = max(self.trusted_until, started + TRUST)
            await asyncio.sleep(max(0.0, POLL - (time.monotonic() - started)))

    async def authenticate(
        self, secret: bytes | None
    ) -> tuple[str, frozenset[str], frozenset[str]]:
        if not secret:
            raise Problem(401, "unauthorized", "Send an API key in the X-API-Key header.")
        secret_hash = hashlib.sha256(secret).hexdigest()
        now = time.monotonic()
        entry = self.entries.get(secret_hash)
        if entry is not None and now < self.trusted_until and entry[0] > now:
            return entry[1]
        found = await DB.read(units.lookup_key(secret_hash))
        if found is None:
            raise Problem(401, "unauthorized", "The API key is unknown or revoked.")
        key_id, scopes, last_used, spaces = found
        utc = datetime.now(UTC)
        if last_used is None or last_used < D.ts(utc - timedelta(minutes=1)):
            await DB.write(units.touch_key(D, key_id, utc))
        principal = (key_id, frozenset(scopes), frozenset(spaces))
        self.entries[secret_hash] = (now + CACHE_TTL, principal)
        return principal

    async def check_space(self, principal: Any, space_id: str, scope: str) -> None:
        _, scopes, spaces = principal
        admin = "admin" in scopes
        if not IDS["spc"].fullmatch(space_id) or not (admin or space_id in spaces):
            raise Problem(404, "space_not_found", "No space with this id exists.")
        if admin and space_id not in self.known_spaces:
            if not await DB.read(units.space_exists(space_id)):
                raise Problem(404, "space_not_found", "No space with this id exists.")
            self.known_spaces.add(space_id)
        if not admin and scope not in scopes and not (scope == "read" and "write" in scopes):
            raise Problem(
                403, "forbidden", f"This request needs an API key with the {scope!r} scope."
            )


PRINCIPALS = Principals()


# --- request pieces ---------------------------------------------------------------------------


async def read_body(receive: Any, headers: dict[bytes, bytes]) -> Any:
    """The JSON body: 413 past the limit (before reading it whole), 415, 400."""
    declared = headers.get(b"content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise Problem(413, "payload_too_large", f"The body must be at most {MAX_BODY} bytes.")
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise Problem(413, "payload_too_large", f"The body must be at most {MAX_BODY} bytes.")
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    media = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
    if media != b"application/json":
        raise Problem(415, "unsupported_media_type", "Send the body as application/json.")
    try:
        return json.loads(b"".join(chunks).decode("utf-8"))
    except (ValueError, RecursionError):
        raise Problem(400, "malformed_json", "The body is not valid JSON.") from None


def _text(value: Any, low: int, high: int) -> bool:
    return isinstance(value, str) and low <= len(value) <= high and not BAD_TEXT.search(value)


def _metadata(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and len(value) <= 16
        and all(_text(k, 1, 64) and _text(v, 0, 512) for k, v in value.items())
    )


MESSAGE_FIELDS = frozenset({"content", "author", "metadata"})
THREAD_FIELDS = frozenset({"content", "author", "metadata", "title", "thread_metadata"})


def validate(body: Any, fields: frozenset[str]) -> dict[str, Any]:
    ok = (
        isinstance(body, dict)
        and body.keys() <= fields
        and _text(body.get("content"), 1, 32_768)
        and bool(body["content"].strip())
        and (body.get("author") is None or _text(body["author"], 1, 128))
        and _metadata(body.get("metadata", {}))
        and (body.get("title") is None or _text(body["title"], 1, 200))
        and _metadata(body.get("thread_metadata", {}))
    )
    if not ok:
        errors = [{"loc": ["body"], "message": "breaks a field rule of the contract (§10)"}]
        raise Problem(
            422, "validation_failed", "The request breaks a rule; see errors.", (), errors
        )
    return body


def idempotency(headers: dict[bytes, bytes], key_id: str, path: str, body: Any) -> Idem | None:
    raw = headers.get(b"idempotency-key")
    if raw is None:
        return None
    key = raw.decode("latin-1")
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise Problem(
            400,
            "invalid_idempotency_key",
            "Idempotency-Key must be 1-255 printable ASCII characters.",
        )
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    fingerprint = hashlib.sha256(f"POST\n{path}\n{canonical}".encode()).hexdigest()
    return Idem(key_id, key, fingerprint)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _sign(binding: str, payload: str) -> bytes:
    return hmac.new(CURSOR_SECRET, f"{binding}\n{payload}".encode(), hashlib.sha256).digest()[:16]


def cursor_encode(binding: str, position: list[Any]) -> str:
    payload = _b64(json.dumps(position, separators=(",", ":")).encode())
    return f"{payload}.{_b64(_sign(binding, payload))}"


def cursor_decode(binding: str, cursor: str) -> list[Any]:
    try:
        payload, signature = cursor.split(".")
        if hmac.compare_digest(_sign(binding, payload), base64.urlsafe_b64decode(signature + "==")):
            position = json.loads(base64.urlsafe_b64decode(payload + "=="))
            if isinstance(position, list):
                return position
    except ValueError:
        pass
    raise Problem(400, "invalid_cursor", "The cursor was altered, or belongs to another list.")


def page(
    path: str,
    params: list[tuple[str, str]],
    items: list[Any],
    more: bool,
    binding: str,
    position: Any,
) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    headers = list(JSON_TYPE)
    next_cursor = None
    if more:
        next_cursor = cursor_encode(binding, position(items[-1]))
        query = urlencode([*(p for p in params if p[0] != "cursor"), ("cursor", next_cursor)])
        headers.append((b"link", f'<{quote(path)}?{query}>; rel="next"'.encode()))
    body = {"object": "list", "data": items, "has_more": more, "next_cursor": next_cursor}
    return units.dumps(body), headers


def query_of(scope: Any) -> tuple[list[tuple[str, str]], dict[str, str]]:
    params = parse_qsl(scope["query_string"].decode("latin-1"))
    return params, dict(params)


def limit_of(query: dict[str, str]) -> int:
    raw = query.get("limit", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= 200:
        raise Problem(422, "validation_failed", "limit must be 1-200.")
    return int(raw)


# --- the five routes --------------------------------------------------------------------------


async def handle(
    scope: Any, receive: Any, headers: dict[bytes, bytes], state: dict[str, Any]
) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    method, path = scope["method"], scope["path"]
    parts = path.split("/")
    n = len(parts)
    if n < 5 or parts[1] != "v1" or parts[2] != "spaces" or parts[4] != "threads" or n > 7:
        raise Problem(404, "not_found", "No such resource.")
    if n == 7 and parts[6] != "messages":
        raise Problem(404, "not_found", "No such resource.")
    post = method == "POST"
    if (
        (not post and method != "GET")
        or (post and n == 5)
        or (post and n == 6 and parts[5] != "messages")
    ):
        raise Problem(405, "method_not_allowed", f"{method} is not allowed here.")
    principal = await PRINCIPALS.authenticate(headers.get(b"x-api-key"))
    state["api_key_id"] = principal[0]
    space_id = parts[3]
    if post:
        body = await read_body(receive, headers)
        await PRINCIPALS.check_space(principal, space_id, "write")
        idem = idempotency(headers, principal[0], path, body)
        if n == 6:
            unit = units.create_thread(D, space_id, validate(body, THREAD_FIELDS), idem)
        else:
            thread_id = parts[5]
            if not IDS["thr"].fullmatch(thread_id):
                raise Problem(
                    404, "thread_not_found", "No thread with this id exists in this space."
                )
            unit = units.create_message(
                D, space_id, thread_id, validate(body, MESSAGE_FIELDS), idem
            )
        result = await DB.write(unit)
        if isinstance(result, Problem):
            raise result
        if isinstance(result, Replay):
            extra = [(b"idempotent-replayed", b"true")]
            if result.location:
                extra.append((b"location", result.location.encode()))
            return result.status, result.body, [*JSON_TYPE, (b"etag", etag(result.body)), *extra]
        assert isinstance(result, Created)
        headers_out = [
            *JSON_TYPE,
            (b"location", result.location.encode()),
            (b"etag", etag(result.body)),
        ]
        return 201, result.body, headers_out
    await PRINCIPALS.check_space(principal, space_id, "read")
    params, query = query_of(scope)
    limit = limit_of(query)
    if n == 5:
        binding = f"threads:{space_id}:None:last_message_at:desc"
        after = None
        if "cursor" in query:
            position = cursor_decode(binding, query["cursor"])
            after = (D.ts(datetime.fromisoformat(position[0])), position[1])
        rows = await DB.read(units.thread_page(space_id, after, limit))
        items = [units.thread_json(D, r) for r in rows[:limit]]
        body, out = page(
            path,
            params,
            items,
            len(rows) > limit,
            binding,
            lambda t: [t["last_message_at"], t["id"]],
        )
        return 200, body, out
    thread_id = parts[5]
    if not IDS["thr"].fullmatch(thread_id):
        raise Problem(404, "thread_not_found", "No thread with this id exists in this space.")
    if n == 6:
        row = await DB.read(units.read_thread(space_id, thread_id))
        if row is None:
            raise Problem(404, "thread_not_found", "No thread with this id exists in this space.")
        body = units.dumps(units.thread_json(D, row))
        tag = etag(body)
        match = headers.get(b"if-none-match")
        if match is not None and tag in [t.strip().removeprefix(b"W/") for t in match.split(b",")]:
            return 304, b"", [(b"etag", tag)]
        return 200, body, [*JSON_TYPE, (b"etag", tag)]
    order = query.get("order", "asc")
    after_seq = query.get("after_seq")
    if order not in ("asc", "desc") or (after_seq is not None and not after_seq.isdigit()):
        raise Problem(422, "validation_failed", "order or after_seq breaks a rule.")
    after_seq_value = None if after_seq is None else int(after_seq)
    binding = f"messages:{thread_id}:{order}:{after_seq_value}"
    after = cursor_decode(binding, query["cursor"])[0] if "cursor" in query else None
    rows = await DB.read(
        units.message_page(space_id, thread_id, order, after_seq_value, after, limit)
    )
    if rows is None:
        raise Problem(404, "thread_not_found", "No thread with this id exists in this space.")
    items = [units.message_json(D, r) for r in rows[:limit]]
    body, out = page(path, params, items, len(rows) > limit, binding, lambda m: [m["seq"]])
    return 200, body, out


# --- ASGI -------------------------------------------------------------------------------------

_log_buffer: list[bytes] = []


def _flush_log() -> None:
    data = b"".join(_log_buffer)
    _log_buffer.clear()
    os.write(2, data)


def log_line(
    request_id: str, method: str, path: str, status: int, started: float, key_id: str | None
) -> None:
    entry = {
        "time": datetime.now(UTC).isoformat(timespec="microseconds"),
        "level": "info",
        "logger": "threads_api.request",
        "message": "request",
        "request_id": request_id,
        "method": method,
        "path": path,
        "status": status,
        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
        "api_key_id": key_id,
    }
    line = json.dumps(entry, ensure_ascii=False).encode() + b"\n"
    if LOG == "line":
        os.write(2, line)
    else:  # batch: one write per event-loop iteration, off the request's path
        if not _log_buffer:
            asyncio.get_running_loop().call_soon(_flush_log)
        _log_buffer.append(line)


def problem_body(error: Problem, request_id: str) -> bytes:
    problem = {
        "type": f"urn:threads-api:problem:{error.code}",
        "title": error.code.replace("_", " ").capitalize(),
        "status": error.status,
        "detail": error.detail,
        "code": error.code,
        "request_id": request_id,
    }
    if error.errors is not None:
        problem["errors"] = error.errors
    return units.dumps(problem)


async def lifespan(receive: Any, send: Any) -> None:
    watcher = None
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await DB.start()
            watcher = asyncio.create_task(PRINCIPALS.watch())
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if watcher is not None:
                watcher.cancel()
            await DB.stop()
            batches = getattr(DB, "batches", None)
            if batches:
                print(
                    f"group commit: {len(batches)} commits, {sum(batches)} writes, "
                    f"mean batch {sum(batches) / len(batches):.2f}, max {max(batches)}",
                    file=sys.stderr,
                )
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    started = time.perf_counter()
    headers = dict(scope["headers"])
    given = headers.get(b"x-request-id")
    request_id = given.decode("latin-1") if given is not None else ""
    if not REQUEST_ID.fullmatch(request_id):
        request_id = secrets.token_hex(16)
    state: dict[str, Any] = {}
    try:
        status, body, out = await handle(scope, receive, headers, state)
    except Problem as error:
        status, body = error.status, problem_body(error, request_id)
        out = [(b"content-type", b"application/problem+json"), *error.headers]
    except Exception as error:  # the database failing: 503, as the service answers
        print(f"ceiling: {type(error).__name__}: {error}", file=sys.stderr)
        problem = Problem(
            503, "database_unavailable", "The database cannot be reached.", [(b"retry-after", b"1")]
        )
        status, body = 503, problem_body(problem, request_id)
        out = [(b"content-type", b"application/problem+json"), *problem.headers]
    out.append((b"content-length", str(len(body)).encode()))
    out.append((b"x-request-id", request_id.encode()))
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": body})
    if LOG != "off":
        log_line(
            request_id, scope["method"], scope["path"], status, started, state.get("api_key_id")
        )
