"""Helpers for the error tests (contract §9): raw request bodies, under a small body limit."""

import httpx

MAX_BODY = 256 * 1024
JSON = "application/json"


async def post_raw(
    client: httpx.AsyncClient,
    path: str,
    content: bytes,
    content_type: str | None = "application/json",
    **headers: str,
) -> httpx.Response:
    all_headers = {k.replace("_", "-"): v for k, v in headers.items()}
    if content_type is not None:
        all_headers["Content-Type"] = content_type
    request = client.build_request("POST", path, content=content, headers=all_headers)
    if content_type is None:
        request.headers.pop("Content-Type", None)
    return await client.send(request)
