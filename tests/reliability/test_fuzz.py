"""Contract fuzzing (issue 5, item 1): schemathesis against the app's own OpenAPI document.

A real server process per database; the `st` CLI in a subprocess, all checks, a fixed seed.
Two runs per database:

- *tenants*: two write keys bound to two spaces (WFC auth peers `alice` and `bob`), so that
  `object_level_authorization` replays alice's reads as bob; the operations that need the
  admin scope are left to the second run (alice and bob would only ever see 403 there);
- *admin*: every operation with an admin key.

Real ids reach the path parameters through schemathesis dictionaries, so operations are
exercised beyond 404. `make fuzz` sets THREADS_FUZZ_EXAMPLES higher for a longer run.
"""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import ADMIN_SECRET

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("THREADS_FUZZ_EXAMPLES", "100"))
SEED = int(os.environ.get("THREADS_FUZZ_SEED", "1"))
REPO = Path(__file__).resolve().parents[2]
ST = Path(sys.executable).with_name("st")

# The cursor is signed: no schema can say which strings are valid ones, and the contract
# answers a forged or foreign cursor with 400.
LIST_OPERATIONS = [
    "GET /v1/spaces",
    "GET /v1/api-keys",
    "GET /v1/spaces/{space_id}/threads",
    "GET /v1/spaces/{space_id}/threads/{thread_id}/messages",
    "GET /v1/spaces/{space_id}/events",
    "GET /v1/spaces/{space_id}/threads/{thread_id}/messages/{message_id}/versions",
    "GET /v1/webhooks",
    "GET /v1/webhooks/{webhook_id}/deliveries",
]
# Every operation that honours If-Match.
IF_MATCH_OPERATIONS = [
    "PATCH /v1/spaces/{space_id}/threads/{thread_id}",
    "DELETE /v1/spaces/{space_id}/threads/{thread_id}",
    "PATCH /v1/spaces/{space_id}/threads/{thread_id}/messages/{message_id}",
    "DELETE /v1/spaces/{space_id}/threads/{thread_id}/messages/{message_id}",
    "PATCH /v1/webhooks/{webhook_id}",
    "DELETE /v1/webhooks/{webhook_id}",
]
# A stream never ends by itself, so it cannot be fuzzed request by request: tests/event/
# covers it, and its filters are the list's.
STREAM_OPERATIONS = ["GET /v1/spaces/{space_id}/events/stream"]
WEBHOOK_OPERATIONS = [
    "POST /v1/webhooks",
    "GET /v1/webhooks",
    "GET /v1/webhooks/{webhook_id}",
    "PATCH /v1/webhooks/{webhook_id}",
    "DELETE /v1/webhooks/{webhook_id}",
    "POST /v1/webhooks/{webhook_id}/rotate-secret",
    "GET /v1/webhooks/{webhook_id}/deliveries",
    "POST /v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry",
]
# A webhook URL must have a host and no credentials or fragment (api.md §15): rules that a
# `pattern` cannot spell out for every generator, so schema-valid URLs may still be a 422.
URL_OPERATIONS = ["POST /v1/webhooks", "PATCH /v1/webhooks/{webhook_id}"]
ADMIN_OPERATIONS = [
    "POST /v1/spaces",
    "PATCH /v1/spaces/{space_id}",
    "POST /v1/api-keys",
    "GET /v1/api-keys",
    "GET /v1/api-keys/{key_id}",
    "DELETE /v1/api-keys/{key_id}",
    *WEBHOOK_OPERATIONS,
]
ADMIN_RUN = [*ADMIN_OPERATIONS, "GET /v1/spaces", "GET /v1/spaces/{space_id}"]
# DELETE on these is a soft delete by contract (api.md §4, §5): a revoked key and an archived
# thread, its messages included, stay readable and answer 200. `use_after_free` assumes a
# DELETE makes the resource vanish, so it is off for exactly these reads and nowhere else.
SOFT_DELETED_PATH = r"^/v1/(api-keys/\{key_id\}|spaces/\{space_id\}/threads/\{thread_id\})"
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429"]


def _toml_list(values: list[str]) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def _config(
    ids: dict[str, Any], *, wfc: Path | None, examples: int, admin_secret: str | None = None
) -> str:
    lines = [
        f"seed = {SEED}",
        # One worker: the seed then fixes the run, and CPython 3.11 is not thread-safe in
        # the ast parsing hypothesis does to describe strategies.
        "workers = 1",
        "[generation]",
        f"max-examples = {examples}",
        # Stateful scenarios are long chains of requests: fewer of them buy the same coverage.
        "[phases.stateful.generation]",
        f"max-examples = {max(10, examples // 5)}",
        "[checks]",
        "enabled = true",
        "[warnings]",
        'fail-on = ["missing_auth", "unsupported_regex", "unused_openapi_auth",'
        ' "unmatched_filter"]',
    ]
    if wfc is not None:
        lines += ["[auth.wfc]", f"path = {json.dumps(str(wfc))}", 'peers = ["alice", "bob"]']
    if admin_secret is not None:
        # Through the document's security scheme, so that schemathesis knows which header is
        # the key when it tests requests without one.
        lines += ["[auth.openapi.ApiKey]", f"api_key = {json.dumps(admin_secret)}"]
    for name in ("space_ids", "thread_ids", "message_ids", "key_ids", "webhook_ids"):
        lines += [f"[dictionaries.{name}]", f"values = {_toml_list(ids[name])}"]
    lines += [
        "[parameters]",
        # Mostly real ids, sometimes generated ones (which must answer 404).
        '"path.space_id" = { dictionary = "space_ids", probability = 0.9 }',
        '"path.thread_id" = { dictionary = "thread_ids", probability = 0.9 }',
        '"path.message_id" = { dictionary = "message_ids", probability = 0.9 }',
        '"path.key_id" = { dictionary = "key_ids", probability = 0.9 }',
        '"path.webhook_id" = { dictionary = "webhook_ids", probability = 0.9 }',
        # A key may only be bound to spaces that exist.
        '"body.space_ids[*]" = { dictionary = "space_ids" }',
        # No long-polls: each could wait 30 s (tests/event/test_long_poll.py covers them).
        '"query.wait" = 0',
        "[[operations]]",
        f"include-name = {_toml_list(LIST_OPERATIONS)}",
        f"checks.positive_data_acceptance.expected-statuses = {_toml_list([*ACCEPTED, '400'])}",
        "[[operations]]",
        'include-name = "POST /v1/api-keys"',
        # Only spaces that exist may be named; no schema can say which ones do.
        f"checks.positive_data_acceptance.expected-statuses = {_toml_list([*ACCEPTED, '422'])}",
        "[[operations]]",
        f"include-name = {_toml_list(URL_OPERATIONS)}",
        f"checks.positive_data_acceptance.expected-statuses = "
        f"{_toml_list([*ACCEPTED, '412', '422'])}",
        "[[operations]]",
        f"include-name = {_toml_list(IF_MATCH_OPERATIONS)}",
        # Any If-Match but the resource's current ETag is a 412, by contract.
        f"checks.positive_data_acceptance.expected-statuses = {_toml_list([*ACCEPTED, '412'])}",
        "[[operations]]",
        f"include-path-regex = {json.dumps(SOFT_DELETED_PATH)}",
        "checks.use_after_free.enabled = false",
    ]
    if wfc is not None:
        # alice and bob would only ever get 403 from these: the admin run covers them.
        disabled = [*ADMIN_OPERATIONS, *STREAM_OPERATIONS]
        lines += ["[[operations]]", f"include-name = {_toml_list(disabled)}"]
        lines += ["enabled = false"]
    else:
        # The admin run: what needs the admin scope, and the reads that show what it made.
        lines += ["[[operations]]", f"exclude-name = {_toml_list(ADMIN_RUN)}"]
        lines += ["enabled = false"]
    return "\n".join(lines) + "\n"


def _arrange(url: str) -> dict[str, Any]:
    """Two spaces with a write key each, threads and messages in alice's, a spare key."""
    with httpx.Client(base_url=url, headers={"X-API-Key": ADMIN_SECRET}, timeout=30) as admin:

        def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
            response = admin.post(path, json=body)
            assert response.status_code == 201, response.text
            return response.json()

        alice_space = post("/v1/spaces", {"name": "alice"})["id"]
        bob_space = post("/v1/spaces", {"name": "bob"})["id"]

        def key(name: str, scope: str, space: str) -> dict[str, Any]:
            return post("/v1/api-keys", {"name": name, "scopes": [scope], "space_ids": [space]})

        alice = key("alice", "write", alice_space)
        bob = key("bob", "write", bob_space)
        spare = key("spare", "read", bob_space)
        threads, messages = [], []
        # Several threads: the fuzzer archives and locks some, and the others stay open.
        for n in range(4):
            created = post(f"/v1/spaces/{alice_space}/threads/messages", {"content": f"t{n}"})
            threads.append(created["thread"]["id"])
            messages.append(created["message"]["id"])
        keys = admin.get("/v1/api-keys", params={"limit": 200}).json()["data"]
        # No receiver listens there: its deliveries fail, which fills its deliveries log.
        webhook = post("/v1/webhooks", {"url": "https://example.invalid/hook"})
    return {
        "webhook_ids": [webhook["id"]],
        "space_ids": [alice_space],
        "thread_ids": threads,
        "message_ids": messages,
        "key_ids": [spare["id"]],
        "alice": alice["secret"],
        "bob": bob["secret"],
        "protected": [k["id"] for k in keys if k["id"] != spare["id"]],
        "spare": spare["id"],
    }


def _st(config: Path, url: str, ids: dict[str, Any], *extra: str) -> tuple[int, str, float]:
    environment = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.reliability.fuzz_hooks",
        "PYTHONPATH": str(REPO),
        "THREADS_FUZZ_PROTECTED_KEY_IDS": ",".join(ids["protected"]),
        "THREADS_FUZZ_SPARE_KEY_ID": ids["spare"],
        "NO_COLOR": "1",
    }
    command = [str(ST), "--config-file", str(config), "run", f"{url}/openapi.json", *extra]
    started = time.monotonic()
    done = subprocess.run(
        command, env=environment, cwd=config.parent, capture_output=True, text=True, timeout=900
    )
    return done.returncode, done.stdout + done.stderr, time.monotonic() - started


def _generated(output: str) -> int:
    # The summary's line "  1974 generated, …": other lines (warnings) may say "generated" too.
    for line in output.splitlines():
        found = re.match(r"\s*(\d+) generated", line)
        if found:
            return int(found.group(1))
    raise AssertionError(f"no test case count in:\n{output[-3000:]}")


def test_contract_fuzzing(database_url: str, server_factory: Any, tmp_path: Path) -> None:
    server = server_factory(database_url, env={"THREADS_API_LOG_LEVEL": "WARNING"})
    ids = _arrange(server.url)
    document = httpx.get(f"{server.url}/openapi.json").json()
    operations = [
        f"{method.upper()} {path}" for path, ops in document["paths"].items() for method in ops
    ]

    wfc = tmp_path / "wfc.json"
    wfc.write_text(
        json.dumps(
            {
                "auth": [
                    {"name": user, "fixedHeaders": [{"name": "X-API-Key", "value": ids[user]}]}
                    for user in ("alice", "bob")
                ]
            }
        )
    )
    runs = {
        "tenants": (_config(ids, wfc=wfc, examples=EXAMPLES), ()),
        "admin": (_config(ids, wfc=None, examples=EXAMPLES, admin_secret=ADMIN_SECRET), ()),
    }
    report = []
    for name, (text, extra) in runs.items():
        config = tmp_path / f"{name}.toml"
        config.write_text(text)
        code, output, seconds = _st(config, server.url, ids, *extra)
        report.append(f"{name}: {seconds:.0f}s")
        assert code == 0, f"{name} run failed ({config}):\n{output[-20000:]}"
        selected = len(ADMIN_RUN)
        if name == "tenants":
            selected = len(operations) - len(ADMIN_OPERATIONS) - len(STREAM_OPERATIONS)
        assert f"Tested: {selected}" in output, output[-5000:]
        # Every operation got its examples (coverage and fuzzing phases at least).
        assert _generated(output) >= selected * EXAMPLES, output[-5000:]
    # Between the two runs, every operation of the document but the stream was fuzzed.
    fuzzed = set(operations) - set(ADMIN_OPERATIONS) - set(STREAM_OPERATIONS) | set(ADMIN_RUN)
    assert fuzzed == set(operations) - set(STREAM_OPERATIONS)
    print(", ".join(report))
