"""Schemathesis hooks for tests/reliability/test_fuzz.py (loaded by `st` via SCHEMATHESIS_HOOKS).

Generated `Idempotency-Key` values repeat ("0", "00", ...), and a repeated key with another
body is rightly a 422: each request gets a fresh key, so the fuzzer exercises creation.
tests/idempotency covers the keys themselves.

The fuzzer learns key ids from `GET /v1/api-keys` and may send `DELETE /v1/api-keys/{id}`
with the id of a key it is itself using. Revoking that key mid-run would turn every later
request into a 401 and blind the run, so those deletes are redirected to a spare key.
"""

import os
import uuid
from typing import Any

import schemathesis

_PROTECTED = set(filter(None, os.environ.get("THREADS_FUZZ_PROTECTED_KEY_IDS", "").split(",")))
_SPARE = os.environ.get("THREADS_FUZZ_SPARE_KEY_ID", "")


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    if (
        case.method.upper() == "DELETE"
        and case.path == "/v1/api-keys/{key_id}"
        and (case.path_parameters or {}).get("key_id") in _PROTECTED
    ):
        case.path_parameters["key_id"] = _SPARE
    if case.headers and "Idempotency-Key" in case.headers:
        case.headers["Idempotency-Key"] = uuid.uuid4().hex


def _without_lone_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in value)
    if isinstance(value, dict):
        return {_without_lone_surrogates(k): _without_lone_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_lone_surrogates(item) for item in value]
    return value


@schemathesis.hook
def map_body(context: Any, body: Any) -> Any:
    """Hypothesis draws lone surrogates, which the contract refuses (422) but no JSON Schema
    pattern can express; test_hostile_input covers them. Here they become U+FFFD."""
    return _without_lone_surrogates(body)
