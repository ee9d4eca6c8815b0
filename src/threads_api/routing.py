"""The checks every /v1 route makes before FastAPI parses the request.

The contract fixes their order: route (404/405, done by the router), authentication (401),
body size (413), content type (415), JSON syntax (400); then the dependencies check the
space (404) and the scope (403), and the body is validated (422). FastAPI would parse the
body before any dependency runs, so these checks wrap its handler instead.
"""

import json
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.types import Scope

from threads_api.auth.principal import Principal
from threads_api.auth.service import auth as auth_service
from threads_api.errors import MalformedJson, PayloadTooLarge, UnsupportedMediaType
from threads_api.state import AppState, app_state

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
JSON_ONLY = frozenset({JSON})
JSON_OR_MERGE_PATCH = frozenset({JSON, MERGE_PATCH})

ModelT = TypeVar("ModelT", bound=BaseModel)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise PayloadTooLarge(f"The body must be at most {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The body must be at most {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_json(body: bytes) -> Any:
    try:
        # Decoded first: json.loads would also guess UTF-16 and UTF-32, and the contract is UTF-8.
        return json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError):
        # ValueError covers bad syntax and bytes that are not UTF-8; RecursionError, arrays
        # nested deeper than the parser's stack.
        raise MalformedJson("The body is not valid JSON.") from None


async def read_json_body(
    request: Request, accepted: frozenset[str], *, optional: bool = False
) -> tuple[bytes, Any]:
    """The body and its JSON value, checked in the contract's order: size (413), media type
    (415), then syntax (400). For `ApiRoute` and for a write the request middleware serves
    itself (middleware.py's direct routes). `optional`: no body and no media type (a bare
    `curl -X POST`) is None; an empty body declared as JSON is still malformed JSON."""
    body = await _read_body(request, app_state(request).settings.max_body_bytes)
    if optional and not body and "content-type" not in request.headers:
        return body, None
    if _media_type(request) not in accepted:
        raise UnsupportedMediaType(f"Send the body as {' or '.join(sorted(accepted))}.")
    return body, _parse_json(body)


def validate_body(model: type[ModelT], value: Any) -> ModelT:
    """`value` as FastAPI validates the one body parameter of a route, for a route served
    without it: with `from_attributes` (FastAPI's way; for `null`, an array or a scalar it
    changes pydantic's error: "a valid dictionary or object to extract fields from") and the
    errors located under `body`, raised for the app's 422 handler."""
    try:
        return model.model_validate(value, from_attributes=True)
    except ValidationError as error:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in error.errors(include_url=False)]
        raise RequestValidationError(errors, body=value) from None


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of the header `name` (lower case), as `request.headers.get` reads it."""
    for key, value in scope["headers"]:
        if key == name:
            decoded: str = value.decode("latin-1")
            return decoded
    return None


async def authenticate_directly(state: AppState, scope: Scope) -> Principal:
    """What `ApiRoute` does first, for a route the request middleware serves itself
    (middleware.py's direct routes): who asks, kept in the request's state."""
    principal = await auth_service.authenticate(
        state.database, state.principals, header(scope, b"x-api-key")
    )
    scope["state"]["principal"] = principal
    scope["state"]["api_key_id"] = principal.key_id
    return principal


class ApiRoute(APIRoute):
    """A /v1 route: authenticated, with a size-limited JSON body on writes."""

    async def authenticate(self, request: Request) -> Principal:
        """Who asks: the key in `X-API-Key`. A route class may accept another credential
        for its own routes only (the event stream's token, event/endpoints.py)."""
        state = app_state(request)
        return await auth_service.authenticate(
            state.database, state.principals, request.headers.get("x-api-key")
        )

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        methods = self.methods or set()  # always set on an APIRoute; Starlette's may be None
        accepted = JSON_OR_MERGE_PATCH if "PATCH" in methods else JSON_ONLY
        takes_body = bool(methods & BODY_METHODS) and self.body_field is not None
        body_optional = self.body_field is not None and not self.body_field.field_info.is_required()

        async def checked_handler(request: Request) -> Response:
            principal = await self.authenticate(request)
            request.state.principal = principal
            request.state.api_key_id = principal.key_id
            if takes_body:
                # Cached where FastAPI looks, so the body is read and parsed only once.
                request._body, request._json = await read_json_body(
                    request, accepted, optional=body_optional
                )
            return await handler(request)

        return checked_handler
