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
from threads_api.state import app_state


async def _visible_space_id(request: Request, space_id: str, principal: Principal) -> str:
    """The space id, or 404 alike for a malformed id, a missing space and another's space."""
    if not is_valid_id("spc", space_id) or not principal.sees_space(space_id):
        raise SpaceNotFound()
    # Non-admin keys are bound to spaces that exist. Spaces are never deleted, so a space
    # seen once is remembered by the process and costs no query again. The query needs no
    # transaction of the request's: it holds no connection while a stream or long-poll waits.
    state = app_state(request)
    if principal.is_admin and space_id not in state.known_spaces:
        if not await state.database.reads.run(repository.exists, space_id):
            raise SpaceNotFound()
        state.known_spaces.add(space_id)
    return space_id


def _space_with_scope(scope: Scope) -> Callable[..., Awaitable[str]]:
    # The principal is read here, not declared as a sub-dependency: one dependency less to
    # resolve on every route (issue 11).
    async def dependency(request: Request, space_id: str) -> str:
        principal = current_principal(request)
        visible = await _visible_space_id(request, space_id, principal)
        require_scope(principal, scope)  # after visibility: 404 comes before 403
        return visible

    return dependency


ReadableSpaceId = Annotated[str, Depends(_space_with_scope("read"))]
WritableSpaceId = Annotated[str, Depends(_space_with_scope("write"))]
AdminSpaceId = Annotated[str, Depends(_space_with_scope("admin"))]
