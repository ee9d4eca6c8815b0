"""Helpers for the authentication and API key tests (contract §2, §4)."""

from typing import Any

import httpx

MISSING_SPACE = "spc_" + "0" * 26
MISSING_KEY = "key_" + "0" * 26
PROBLEM_FIELDS = ("type", "title", "status", "detail", "code")
MALFORMED_SPACE_IDS = [
    "nope",
    "spc_",
    "spc_" + "0" * 25,
    "spc_" + "0" * 27,
    "spc_" + "I" * 26,  # not Crockford base32
    "spc_" + "a" * 26,
    "thr_" + "0" * 26,
    "spc_%00",
    "%00",
]


def as_key(secret: str | None) -> dict[str, str]:
    """Headers that replace the client's admin key (or drop it, for `None`)."""
    return {"X-API-Key": secret} if secret is not None else {}


def without_request_id(body: dict[str, Any]) -> dict[str, Any]:
    return {field: body[field] for field in PROBLEM_FIELDS}


async def key_record(client: httpx.AsyncClient, secret: str) -> dict[str, Any]:
    """The listed key whose prefix starts `secret` (the tests make keys one at a time)."""
    response = await client.get("/v1/api-keys", params={"limit": 200})
    matches = [k for k in response.json()["data"] if secret.startswith(k["prefix"])]
    assert len(matches) == 1
    return matches[0]
