"""The OpenAPI document: the whole truth about statuses, errors and headers, fit for a client
generator.

FastAPI's own document names operations after their paths, declares a `HTTPValidationError`
422 that this service never sends and knows nothing of the checks ApiRoute makes nor of the
headers endpoints set. This module, the one place for all of that, adds:

- short camelCase operation ids made from the endpoints' names (`operation_id`, the app's
  `generate_unique_id_function`) and a tag per domain;
- the problem schema, and for each error status the `code`s it can carry
  (`x-problem-codes`, from the error classes in the route's `responses=`, plus those every
  route can answer);
- every response header: `X-Request-ID` everywhere, `ETag` on each response that carries
  one object, `Location` on 201s, `Link` on lists, `Idempotent-Replayed` where
  `Idempotency-Key` is accepted, `Retry-After` on 503 and on the in-flight 409;
- an `example` for every request body, from its schema's `examples`.
"""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from pydantic import BaseModel

from threads_api.errors import (
    PROBLEM_CONTENT_TYPE,
    MalformedJson,
    PayloadTooLarge,
    RequestHeadersTooLarge,
    ServerBusy,
    ServiceUnavailable,
    ThreadsError,
    Unauthorized,
    Unprocessable,
    UnsupportedMediaType,
    error_responses,
)
from threads_api.idempotency.dependencies import HEADER as IDEMPOTENCY_KEY_HEADER
from threads_api.idempotency.errors import IdempotencyInFlight
from threads_api.kit.pagination import Page

TAGS = [
    {"name": "spaces", "description": "Spaces hold threads; admin keys create and change them."},
    {"name": "threads", "description": "Threads hold messages; they are archived, not deleted."},
    {"name": "messages", "description": "Messages, numbered by `seq` within their thread."},
    {"name": "api-keys", "description": "API keys and their scopes (admin)."},
    {
        "name": "events",
        "description": "The change feed of a space: a list, Server-Sent Events, stream tokens.",
    },
    {
        "name": "webhooks",
        "description": "Endpoints sent the events they ask for, signed per Standard Webhooks, "
        "and their deliveries log (admin).",
    },
    {"name": "operations", "description": "Liveness and readiness, without an API key."},
]

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "description": "An RFC 9457 problem document.",
    "required": ["type", "title", "status", "detail", "code", "request_id"],
    "properties": {
        "type": {"type": "string", "description": "A stable URI per kind of error."},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {
            "type": "string",
            "description": "A stable snake_case name; each error response of each operation "
            "lists the codes it can carry in `x-problem-codes`.",
        },
        "request_id": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["loc", "message"],
                "properties": {
                    "loc": {
                        "type": "array",
                        "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                    },
                    "message": {"type": "string"},
                },
            },
        },
    },
}

# Response headers, referred to from each response as `#/components/headers/<key>`.
HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-ID": {
        "description": "The request's id: the `X-Request-ID` sent, when it matches "
        "`[A-Za-z0-9._:-]{1,128}`, otherwise a new one. Also in problem bodies and logs.",
        "required": True,
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"},
    },
    "ETag": {
        "description": "The strong validator of this response's body: any change of a byte "
        "changes it.",
        "required": True,
        "schema": {"type": "string", "pattern": '^"[0-9a-f]{32}"$'},
    },
    "Location": {
        "description": "The created resource: a path, or a URL under "
        "`THREADS_API_PUBLIC_URL` when that is set; never built from request headers.",
        "required": True,
        "schema": {"type": "string"},
    },
    "Link": {
        "description": 'The next page, when `has_more`: `<URL>; rel="next"` (RFC 8288), the '
        "URL a path and query, or under `THREADS_API_PUBLIC_URL` when that is set.",
        "schema": {"type": "string"},
    },
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored response of an earlier request with "
        "the same `Idempotency-Key`; nothing was created again.",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    "Retry-After-In-Flight": {
        "description": "With `idempotency_in_flight`: seconds to wait before retrying with "
        "the same key.",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
}

# What every route can answer: the server's own refusals, before the application runs.
_EVERY_ROUTE: tuple[type[ThreadsError], ...] = (RequestHeadersTooLarge, ServerBusy)
_EVERY_V1_ROUTE: tuple[type[ThreadsError], ...] = (Unauthorized, Unprocessable, ServiceUnavailable)
_WITH_BODY: tuple[type[ThreadsError], ...] = (MalformedJson, PayloadTooLarge, UnsupportedMediaType)


def operation_id(route: APIRoute) -> str:
    """The endpoint function's name in camelCase: `list_threads` is `listThreads`. Generated
    clients name their methods and modules after it, so it must be short and unique."""
    first, *rest = route.name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def _strict_dict_keys(node: Any) -> None:
    """Pydantic renders a dict whose keys have a `pattern` as `patternProperties`, which lets
    keys that miss the pattern through unchecked; the service refuses them. Say so exactly:
    every key matches `propertyNames`, every value the one value schema."""
    if isinstance(node, list):
        for item in node:
            _strict_dict_keys(item)
        return
    if not isinstance(node, dict):
        return
    patterns = node.get("patternProperties")
    if isinstance(patterns, dict) and len(patterns) == 1 and "additionalProperties" not in node:
        ((pattern, values),) = patterns.items()
        del node["patternProperties"]
        node["additionalProperties"] = values
        node["propertyNames"] = {**node.get("propertyNames", {}), "pattern": pattern}
    for value in node.values():
        _strict_dict_keys(value)


def _add_problems(responses: dict[str, Any], errors: tuple[type[ThreadsError], ...]) -> None:
    """Add what `errors` can answer to an operation's responses, merging the codes (and their
    description lines) into those the route declared for the same status."""
    for status, added in error_responses(*errors).items():
        existing = responses.get(str(status))
        if existing is None or "x-problem-codes" not in existing:
            responses[str(status)] = added  # also replaces FastAPI's HTTPValidationError
            continue
        codes = set(existing["x-problem-codes"]) | set(added["x-problem-codes"])
        existing["x-problem-codes"] = sorted(codes)
        lines = set(existing["description"].splitlines()) | set(added["description"].splitlines())
        existing["description"] = "\n".join(sorted(lines))


def _is_list(model: object) -> bool:
    return isinstance(model, type) and issubclass(model, Page)


def _carries_one_object(route: RouteContext) -> bool:
    model = route.response_model
    return isinstance(model, type) and issubclass(model, BaseModel) and not _is_list(model)


def _header_names(route: RouteContext, operation: dict[str, Any], status: str) -> list[str]:
    names = ["X-Request-ID"]
    if status.startswith("2") and _is_list(route.response_model):
        names.append("Link")
    elif status == "304" or (status.startswith("2") and _carries_one_object(route)):
        names.append("ETag")
    if status == "201":
        names.append("Location")
        parameters = operation.get("parameters", [])
        if any(p["in"] == "header" and p["name"] == IDEMPOTENCY_KEY_HEADER for p in parameters):
            names.append("Idempotent-Replayed")
    if status in ("429", "503"):
        names.append("Retry-After")
    codes = operation["responses"][status].get("x-problem-codes", [])
    if IdempotencyInFlight.code in codes:
        names.append("Retry-After-In-Flight")
    return names


def _add_headers(route: RouteContext, operation: dict[str, Any]) -> None:
    for status, response in operation["responses"].items():
        headers = response.setdefault("headers", {})
        for name in _header_names(route, operation, status):
            header = name.removesuffix("-In-Flight")
            headers[header] = {"$ref": f"#/components/headers/{name}"}


def _add_examples(operation: dict[str, Any], schemas: dict[str, Any]) -> None:
    """Each request body's media types get the first of its schema's `examples`."""
    for media in operation.get("requestBody", {}).get("content", {}).values():
        schema = media.get("schema", {})
        ref = schema.get("$ref", "")
        examples = (schemas.get(ref.rsplit("/", 1)[-1], {}) if ref else schema).get("examples")
        if examples and "example" not in media:
            media["example"] = examples[0]


# Documents made in this process, by the routes they describe: each app has its own copies
# of the same routes (tests make hundreds of apps), and making one takes 0.1-0.2 s.
_documents: dict[tuple[tuple[str, tuple[str, ...]], ...], dict[str, Any]] = {}


def build_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        key = tuple(
            (route.path, tuple(sorted(route.methods or ())))
            for route in app.routes
            if isinstance(route, APIRoute)
        )
        if key not in _documents:
            _documents[key] = _document(app)
        app.openapi_schema = _documents[key]
    return app.openapi_schema


def _document(app: FastAPI) -> dict[str, Any]:
    document = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=(
            "Every /v1 request carries an `X-API-Key` (use **Authorize**). Every error is an "
            "RFC 9457 problem document. The guide: docs/api.md in the repository."
        ),
        routes=app.routes,
        tags=TAGS,
    )
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    _strict_dict_keys(schemas)
    schemas["Problem"] = PROBLEM_SCHEMA
    components["headers"] = HEADERS
    components["securitySchemes"] = {
        "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    }
    routes = {
        (route.path_format, method.lower()): route
        for route in iter_route_contexts(app.routes)
        if isinstance(route.original_route, APIRoute)
        for method in route.methods or ()
    }
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            errors = _EVERY_ROUTE
            if path.startswith("/v1/"):
                operation["security"] = [{"ApiKey": []}]
                errors += _EVERY_V1_ROUTE + (_WITH_BODY if "requestBody" in operation else ())
            else:
                responses.pop("422", None)
            _add_problems(responses, errors)
            for response in responses.values():
                content = response.get("content", {})
                if PROBLEM_CONTENT_TYPE in content:
                    content.pop("application/json", None)
            _add_headers(routes[(path, method)], operation)
            _add_examples(operation, schemas)
    return document
