"""The URLs the service emits (`Location`, `Link`), never built from a request header.

`Host` and `X-Forwarded-*` are the client's to forge (contract §16): a URL made from them
would send the next request, or a cache poisoned with it, wherever the forger likes. So a
URL is the path (and query) alone, which the client resolves against the URL it asked, or
that path under `THREADS_API_PUBLIC_URL` when the operator set one.
"""

from starlette.requests import HTTPConnection

from threads_api.state import app_state


def public_url(request: HTTPConnection, path: str) -> str:
    """`path` ("/v1/…", with any query) as the service shows it to clients."""
    base = app_state(request).settings.public_url
    return path if base is None else base + path
