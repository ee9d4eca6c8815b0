"""The space of a request: visible to its key (404 alike for a malformed id, a missing space
and another's space), then the scope (403). Visibility first: a key learns nothing of the
spaces it cannot see (ADR 0004)."""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request

from threads_api.auth.dependencies import current_principal, require_scope
from threads_api.auth.principal import Principal, Scope
from threads_api.kit.ids import is_valid_id
from threads_api.space import repository
from threads_api.space.errors import SpaceNotFound
from threads_api.state import AppState, app_state


async def _visible_space_id(state: AppState, space_id: str, principal: Principal) -> str:
    """The space id, or 404 alike for a malformed id, a missing space and another's space."""
    if not is_valid_id("spc", space_id) or not principal.sees_space(space_id):
        raise SpaceNotFound()
    # Non-admin keys are bound to spaces that exist. Spaces are never deleted, so a space
    # seen once is remembered by the process and costs no query again. The query needs no
    # transaction of the request's: it holds no connection while a stream or long-poll waits.
    if principal.is_admin and space_id not in state.known_spaces:
        if not await state.database.reads.run(repository.exists, space_id):
            raise SpaceNotFound()
        state.known_spaces.add(space_id)
    return space_id


async def checked_space_id(
    state: AppState, space_id: str, principal: Principal, scope: Scope
) -> str:
    """The space id, once visible to the principal (404), then with `scope` in its key (403):
    visibility first. What the dependencies below check, for a route served without them
    (middleware.py's direct routes)."""
    visible = await _visible_space_id(state, space_id, principal)
    require_scope(principal, scope)
    return visible


def _space_with_scope(scope: Scope) -> Callable[..., Awaitable[str]]:
    # The principal is read here, not declared as a sub-dependency: one dependency less to
    # resolve on every route (issue 11).
    async def dependency(request: Request, space_id: str) -> str:
        return await checked_space_id(
            app_state(request), space_id, current_principal(request), scope
        )

    return dependency


ReadableSpaceId = Annotated[str, Depends(_space_with_scope("read"))]
WritableSpaceId = Annotated[str, Depends(_space_with_scope("write"))]
AdminSpaceId = Annotated[str, Depends(_space_with_scope("admin"))]
