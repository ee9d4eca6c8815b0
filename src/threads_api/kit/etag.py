"""Strong ETags of response bodies and the conditional request headers (RFC 9110 §13).

Every response that carries one object carries the ETag of its body (contract §1): one
function computes it, for a model as it is sent and for stored bytes (idempotent replays).
"""

import hashlib
from typing import TypeVar

from fastapi import Response
from pydantic import BaseModel

from threads_api.errors import PreconditionFailed

T = TypeVar("T", bound=BaseModel)


def etag_of(body: BaseModel | bytes) -> str:
    """A strong validator: it changes whenever any byte of the body does. A model is hashed
    as its JSON, which is what FastAPI sends for it."""
    data = body if isinstance(body, bytes) else body.model_dump_json().encode()
    return f'"{hashlib.sha256(data).hexdigest()[:32]}"'


def with_etag(response: Response, body: T) -> T:
    """`body`, with its ETag set on the response that will carry it."""
    response.headers["ETag"] = etag_of(body)
    return body


def _etags(header: str) -> list[str]:
    return [tag.strip() for tag in header.split(",") if tag.strip()]


def if_none_match_hits(header: str | None, etag: str) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110 §13.1.2)."""
    if header is None:
        return False
    tags = _etags(header)
    return "*" in tags or etag in (tag.removeprefix("W/") for tag in tags)


def check_if_match(header: str | None, etag: str, *, what: str = "resource") -> None:
    """If-Match uses the strong comparison (RFC 9110 §13.1.1): weak tags never match."""
    if header is None:
        return
    tags = _etags(header)
    if "*" not in tags and etag not in tags:
        raise PreconditionFailed(f"The {what} changed since you read it (If-Match).")
