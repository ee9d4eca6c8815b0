"""The OpenAPI document is one a generator can use (issue 9): short unique operation ids, a tag
per domain, an example for every request body, every response header documented, timestamps
as `date-time`, and the problem codes of each error response."""

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from threads_api.app import create_app
from threads_api.config import Settings

TAGS = {"spaces", "threads", "messages", "api-keys", "events", "webhooks", "operations"}
EXPECTED_IDS = {
    "listThreads",
    "getThread",
    "updateThread",
    "archiveThread",
    "createThreadWithMessage",
    "listMessages",
    "createMessage",
    "getMessage",
    "createSpace",
    "listSpaces",
    "getSpace",
    "updateSpace",
    "createApiKey",
    "listApiKeys",
    "getApiKey",
    "revokeApiKey",
    "listEvents",
    "streamEvents",
    "createStreamToken",
    "healthz",
    "readyz",
}
IDEMPOTENT = {
    "createSpace",
    "createThreadWithMessage",
    "createMessage",
    "createApiKey",
    "createWebhook",
}
CAMEL_CASE = re.compile(r"[a-z]+([A-Z][a-z0-9]*)*")


@pytest.fixture(scope="module")
def app() -> FastAPI:
    # The document needs no database: the app is built, never started.
    return create_app(Settings(_env_file=None, database_url="sqlite:///unused.db"))


@pytest.fixture(scope="module")
def document(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, by_method in document["paths"].items()
        for method, operation in by_method.items()
    ]


def headers_of(response: dict[str, Any]) -> set[str]:
    return set(response.get("headers", {}))


def test_operation_ids_are_unique_short_and_camel_case(document: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in operations(document)]
    assert len(ids) == len(set(ids))
    assert all(CAMEL_CASE.fullmatch(i) and len(i) <= 40 for i in ids), ids
    assert set(ids) >= EXPECTED_IDS


def test_every_operation_has_a_domain_tag(document: dict[str, Any]) -> None:
    assert {tag["name"] for tag in document["tags"]} == TAGS
    for method, path, operation in operations(document):
        assert operation.get("tags"), (method, path)
        assert set(operation["tags"]) <= TAGS, (method, path)


def test_every_request_body_has_an_example_the_service_accepts(app: FastAPI) -> None:
    document = app.openapi()
    bodies = {
        (route.path_format, method.lower()): route.body_field
        for route in iter_route_contexts(app.routes)
        if isinstance(route.original_route, APIRoute)
        for method in route.methods or ()
    }
    checked = 0
    for method, path, operation in operations(document):
        if "requestBody" not in operation:
            continue
        for media_type, media in operation["requestBody"]["content"].items():
            assert "example" in media, (method, path, media_type)
            body_field = bodies[(path, method)]
            assert body_field is not None, (method, path)
            _, errors = body_field.validate(media["example"], {}, loc=("body",))
            assert not errors, (method, path, errors)
            checked += 1
    assert checked >= 7


def test_every_response_documents_x_request_id(document: dict[str, Any]) -> None:
    for method, path, operation in operations(document):
        for status, response in operation["responses"].items():
            assert "X-Request-ID" in headers_of(response), (method, path, status)


def test_success_headers_match_what_the_response_carries(document: dict[str, Any]) -> None:
    for method, path, operation in operations(document):
        for status, response in operation["responses"].items():
            if not status.startswith("2") or not path.startswith("/v1/"):
                continue
            names = headers_of(response)
            where = (method, path, status)
            if "application/json" not in response["content"]:
                # The event stream: no one object, no list.
                assert set(response["content"]) == {"text/event-stream"}, where
                assert names == {"X-Request-ID"}, where
                continue
            schema = response["content"]["application/json"]["schema"]
            ref = schema.get("$ref", "")
            if "Page_" in ref or ref.endswith("/EventPage"):
                assert "Link" in names and "ETag" not in names, where
            else:
                assert "ETag" in names, where
            assert ("Location" in names) == (status == "201"), where
            idempotent = operation["operationId"] in IDEMPOTENT
            assert ("Idempotent-Replayed" in names) == idempotent, where


def test_retry_after_on_503_and_on_the_in_flight_409(document: dict[str, Any]) -> None:
    for method, path, operation in operations(document):
        for status, response in operation["responses"].items():
            in_flight = "idempotency_in_flight" in response.get("x-problem-codes", [])
            if status == "503" or in_flight:
                assert "Retry-After" in headers_of(response), (method, path, status)
    create = document["paths"]["/v1/spaces/{space_id}/threads/{thread_id}/messages"]["post"]
    assert create["responses"]["409"]["x-problem-codes"] == [
        "idempotency_in_flight",
        "thread_closed",
    ]


def test_header_references_resolve(document: dict[str, Any]) -> None:
    defined = set(document["components"]["headers"])
    for _, _, operation in operations(document):
        for response in operation["responses"].values():
            for header in response.get("headers", {}).values():
                assert header["$ref"].removeprefix("#/components/headers/") in defined


def test_error_responses_list_their_problem_codes(document: dict[str, Any]) -> None:
    for method, path, operation in operations(document):
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            codes = response["x-problem-codes"]
            assert codes and codes == sorted(set(codes)), (method, path, status)
            for code in codes:
                assert f"`{code}`" in response["description"], (method, path, status, code)
    create = document["paths"]["/v1/spaces/{space_id}/threads/{thread_id}/messages"]["post"]
    # The route's own codes and those every /v1 route answers, merged under one status.
    assert create["responses"]["422"]["x-problem-codes"] == [
        "idempotency_key_reused",
        "validation_failed",
    ]
    assert create["responses"]["404"]["x-problem-codes"] == ["space_not_found", "thread_not_found"]


def test_timestamps_are_date_time(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for name, field in [
        ("Thread", "created_at"),
        ("Thread", "last_message_at"),
        ("Message", "created_at"),
        ("Space", "updated_at"),
        ("ApiKey", "created_at"),
    ]:
        assert schemas[name]["properties"][field]["format"] == "date-time", (name, field)
    archived_at = schemas["Thread"]["properties"]["archived_at"]["anyOf"]
    assert {"type": "string", "format": "date-time"} in archived_at
