"""Who is asking, and may they: the request's principal and its scopes. Which spaces a key
can see is space/dependencies.py."""

from typing import Annotated

from fastapi import Depends, Request

from threads_api.auth.principal import Principal, Scope
from threads_api.errors import Forbidden


def current_principal(request: Request) -> Principal:
    # Set by ApiRoute, which authenticates before the body is read.
    principal: Principal = request.state.principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_scope(principal: Principal, scope: Scope) -> None:
    if not principal.has_scope(scope):
        raise Forbidden(f"This request needs an API key with the {scope!r} scope.")


def require_admin(principal: CurrentPrincipal) -> Principal:
    require_scope(principal, "admin")
    return principal


AdminPrincipal = Annotated[Principal, Depends(require_admin)]
