"""A list endpoint's answer: the cursor it was given (`CursorsDep`) and the page it returns,
with its `Link` header (`build_page`). The page model and the SQL are in kit/pagination.py."""

from collections.abc import Callable, Mapping
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qsl, quote, urlencode

from fastapi import Depends, Request, Response
from starlette.types import Scope

from threads_api.kit.cursor import CursorCodec
from threads_api.kit.pagination import Page
from threads_api.kit.schemas import json_bytes
from threads_api.state import app_state
from threads_api.urls import public_url

T = TypeVar("T")


def cursor_codec(request: Request) -> CursorCodec:
    return app_state(request).cursors


CursorsDep = Annotated[CursorCodec, Depends(cursor_codec)]


def simple_query(scope: Scope, rules: Mapping[str, Callable[[str], bool]]) -> dict[str, str] | None:
    """The query parameters, when each is one of `rules`, given once, with a value its rule
    accepts; None otherwise. What a list served directly (middleware.py) reads by itself:
    anything else is for its FastAPI route to validate and answer."""
    found: dict[str, str] = {}
    for name, value in parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True):
        rule = rules.get(name)
        if rule is None or name in found or not rule(value):
            return None
        found[name] = value
    return found


def digits_within(low: int, high: int) -> Callable[[str], bool]:
    """A rule of `simple_query`: a number written with ASCII digits only, in [low, high]."""
    width = len(str(high))
    return lambda value: (
        value.isascii() and value.isdigit() and len(value) <= width and low <= int(value) <= high
    )


def next_link(request: Request, cursor: str) -> str:
    """`Link` header value (RFC 8288) for the next page: the same request, the next cursor.

    Made from the request's path and query alone (urls.py), not from `request.url`, which
    starts from the `Host` header: a forged one could even reach into the path."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
    path = quote(request.scope["path"]) + "?" + urlencode([*params, ("cursor", cursor)])
    return f'<{public_url(request, path)}>; rel="next"'


def build_page(
    request: Request,
    response: Response,
    items: list[T],
    has_more: bool,
    *,
    binding: str,
    position_of: Callable[[T], list[Any]],
) -> Page[T]:
    """The list body, plus the `Link` header when another page follows."""
    next_cursor, headers = _next_page(request, items, has_more, binding, position_of)
    response.headers.update(headers)
    return Page[T](data=items, has_more=has_more, next_cursor=next_cursor)


def page_response(
    request: Request,
    items: list[dict[str, Any]],
    has_more: bool,
    *,
    binding: str,
    position_of: Callable[[dict[str, Any]], list[Any]],
) -> Response:
    """As `build_page`, for items rendered already (plain reads, issue 11): the page's body
    encoded once, with no model built or validated on the way."""
    next_cursor, headers = _next_page(request, items, has_more, binding, position_of)
    page = {"object": "list", "data": items, "has_more": has_more, "next_cursor": next_cursor}
    return Response(json_bytes(page), media_type="application/json", headers=headers)


def _next_page(
    request: Request,
    items: list[T],
    has_more: bool,
    binding: str,
    position_of: Callable[[T], list[Any]],
) -> tuple[str | None, dict[str, str]]:
    """The cursor of the page after this one, and its `Link` header; none on the last page."""
    if not has_more:
        return None, {}
    next_cursor = cursor_codec(request).encode(binding, position_of(items[-1]))
    return next_cursor, {"Link": next_link(request, next_cursor)}
