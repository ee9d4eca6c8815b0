"""Who is asking, and may they: the principal, scopes, and the spaces a key can see."""

from typing import Annotated

from fastapi import Depends, Request

from threads_api.auth.principal import Principal, Scope
from threads_api.db import SessionDep
from threads_api.errors import Forbidden
from threads_api.kit.ids import is_valid_id
from threads_api.space import repository as space_repository
from threads_api.space.errors import SpaceNotFound


def current_principal(request: Request) -> Principal:
    # Set by ApiRoute, which authenticates before the body is read.
    return request.state.principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def _require(principal: Principal, scope: Scope) -> None:
    if not principal.has_scope(scope):
        raise Forbidden(f"This request needs an API key with the {scope!r} scope.")


def require_admin(principal: CurrentPrincipal) -> Principal:
    _require(principal, "admin")
    return principal


AdminPrincipal = Annotated[Principal, Depends(require_admin)]


async def _visible_space_id(
    request: Request, space_id: str, principal: Principal, session: SessionDep
) -> str:
    """The space id, or 404 alike for a malformed id, a missing space and another's space."""
    if not is_valid_id("spc", space_id) or not principal.sees_space(space_id):
        raise SpaceNotFound()
    # Non-admin keys are bound to spaces that exist. Spaces are never deleted, so a space
    # seen once is remembered by the process and costs no query again.
    known: set[str] = request.app.state.known_spaces
    if principal.is_admin and space_id not in known:
        if not await space_repository.exists(session, space_id):
            raise SpaceNotFound()
        known.add(space_id)
    return space_id


def _space_with_scope(scope: Scope):
    async def dependency(
        request: Request, space_id: str, principal: CurrentPrincipal, session: SessionDep
    ) -> str:
        visible = await _visible_space_id(request, space_id, principal, session)
        _require(principal, scope)  # after visibility: 404 comes before 403
        return visible

    return dependency


ReadableSpaceId = Annotated[str, Depends(_space_with_scope("read"))]
WritableSpaceId = Annotated[str, Depends(_space_with_scope("write"))]
AdminSpaceId = Annotated[str, Depends(_space_with_scope("admin"))]
