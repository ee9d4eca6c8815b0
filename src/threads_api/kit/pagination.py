"""Keyset pagination: the page model, its query parameters and the keyset predicate.

An endpoint reads its cursor and builds its page with pages.py."""

from collections.abc import Sequence
from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, literal, tuple_

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
        key: ColumnElement[Any]
        position: ColumnElement[Any]
        if len(columns) == 1:
            key, position = columns[0], bounds[0]
        else:
            key, position = tuple_(*columns), tuple_(*bounds)
        query = query.where(key < position if descending else key > position)
    ordering = [c.desc() if descending else c.asc() for c in columns]
    return query.order_by(*ordering).limit(limit + 1)


Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Page size, 1-{MAX_LIMIT}.")]
Cursor = Annotated[
    str | None,
    Query(description="`next_cursor` of the previous page; opaque and bound to this list."),
]
