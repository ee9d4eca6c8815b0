"""The OpenAPI document, made to tell the whole truth about statuses and errors.

FastAPI declares a `HTTPValidationError` 422 that this service never sends and knows nothing
of the checks ApiRoute makes; this adds the problem schema, the API key scheme and the
statuses every /v1 route can answer.
"""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from threads_api.errors import (
    PROBLEM_CONTENT_TYPE,
    MalformedJson,
    PayloadTooLarge,
    ServiceUnavailable,
    ThreadsError,
    Unauthorized,
    Unprocessable,
    UnsupportedMediaType,
    error_responses,
)

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
        "code": {"type": "string", "description": "A stable snake_case name."},
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

_EVERY_V1_ROUTE: tuple[type[ThreadsError], ...] = (Unauthorized, Unprocessable, ServiceUnavailable)
_WITH_BODY: tuple[type[ThreadsError], ...] = (MalformedJson, PayloadTooLarge, UnsupportedMediaType)


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


def build_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is not None:
        return app.openapi_schema
    document = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=(
            "Spaces hold threads; threads hold messages. Every /v1 request carries an "
            "`X-API-Key`. Every error is an RFC 9457 problem document."
        ),
        routes=app.routes,
    )
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    _strict_dict_keys(schemas)
    schemas["Problem"] = PROBLEM_SCHEMA
    components["securitySchemes"] = {
        "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    }
    for path, operations in document["paths"].items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if not path.startswith("/v1/"):
                responses.pop("422", None)
                continue
            operation["security"] = [{"ApiKey": []}]
            extra = _EVERY_V1_ROUTE + (_WITH_BODY if "requestBody" in operation else ())
            for status, response in error_responses(*extra).items():
                existing = responses.get(str(status))
                if existing is None or "HTTPValidationError" in str(existing):
                    responses[str(status)] = response
            for response in responses.values():
                content = response.get("content", {})
                if PROBLEM_CONTENT_TYPE in content:
                    content.pop("application/json", None)
    app.openapi_schema = document
    return document
