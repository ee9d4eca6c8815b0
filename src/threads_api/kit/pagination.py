"""Keyset pagination: the page model, the keyset predicate and the `Link` header."""

from collections.abc import Callable, Sequence
from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import Depends, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, literal, tuple_
from starlette.datastructures import URL

from threads_api.kit.cursor import CursorCodec

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
Order = Literal["asc", "desc"]


class Page(BaseModel, Generic[T]):
    object: Literal["list"] = "list"
    data: list[T]
    has_more: bool
    next_cursor: str | None


def keyset_page(
    query: Select[Any],
    columns: Sequence[ColumnElement[Any]],
    after: Sequence[Any] | None,
    *,
    order: Order,
    limit: int,
) -> Select[Any]:
    """Rows strictly after `after` in (columns…) order, `limit + 1` of them so that `has_more`
    is exact without a COUNT. Ties in the first column are broken by the last (the id)."""
    descending = order == "desc"
    if after is not None:
        # A single column needs no row value; a plain comparison reads best in EXPLAIN.
        bounds = [literal(value, column.type) for column, value in zip(columns, after, strict=True)]
        if len(columns) == 1:
            key, position = columns[0], bounds[0]
        else:
            key, position = tuple_(*columns), tuple_(*bounds)
        query = query.where(key < position if descending else key > position)
    ordering = [c.desc() if descending else c.asc() for c in columns]
    return query.order_by(*ordering).limit(limit + 1)


def split_page(rows: Sequence[T], limit: int) -> tuple[list[T], bool]:
    """The page itself and whether more rows follow it."""
    return list(rows[:limit]), len(rows) > limit


def next_link(url: URL, cursor: str) -> str:
    """`Link` header value (RFC 8288) for the next page: the same request, the next cursor."""
    return f'<{url.include_query_params(cursor=cursor)}>; rel="next"'


Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Page size, 1-{MAX_LIMIT}.")]
Cursor = Annotated[
    str | None,
    Query(description="`next_cursor` of the previous page; opaque and bound to this list."),
]


def cursor_codec(request: Request) -> CursorCodec:
    return request.app.state.cursors


CursorsDep = Annotated[CursorCodec, Depends(cursor_codec)]


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
    next_cursor = None
    if has_more:
        next_cursor = cursor_codec(request).encode(binding, position_of(items[-1]))
        response.headers["Link"] = next_link(request.url, next_cursor)
    return Page[T](data=items, has_more=has_more, next_cursor=next_cursor)
