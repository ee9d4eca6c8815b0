"""The SDK and the server's OpenAPI document cover the same operations, matched on (method,
path template), not on operationId. Fails when the server gains an operation the SDK lacks,
or the SDK calls one the server does not have. The document does not depend on the database,
so this runs on SQLite only."""

import inspect
from typing import Any

import httpx
import pytest
from sdk_servers import Server
from threads_api_client import AsyncThreadsClient, ThreadsClient
from threads_api_client._operations import OPERATIONS

pytestmark = pytest.mark.slow

METHODS = {"get", "post", "put", "patch", "delete"}  # HEAD mirrors GET: not an operation
# Probes for load balancers and orchestrators, not part of the API an application uses.
NOT_FOR_THE_SDK = {("GET", "/healthz"), ("GET", "/readyz")}
# SDK methods that make no request.
LOCAL_METHODS = {"webhooks.verify"}


@pytest.fixture(scope="module")
def document(sqlite_server: Server) -> dict[str, Any]:
    response = httpx.get(f"{sqlite_server.url}/openapi.json", timeout=10)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def _operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def test_every_operation_of_the_server_is_in_the_sdk(document: dict[str, Any]) -> None:
    sdk = {(op.method, op.path) for op in OPERATIONS}
    missing = set(_operations(document)) - sdk - NOT_FOR_THE_SDK
    assert not missing, f"operations the SDK does not cover: {sorted(missing)}"


def test_every_operation_the_sdk_calls_exists(document: dict[str, Any]) -> None:
    unknown = {(op.method, op.path) for op in OPERATIONS} - set(_operations(document))
    assert not unknown, f"the SDK calls operations the server does not have: {sorted(unknown)}"
    assert len({(op.method, op.path) for op in OPERATIONS}) == len(OPERATIONS)


def test_creates_are_exactly_the_operations_that_take_an_idempotency_key(
    document: dict[str, Any],
) -> None:
    takes_key = {
        key
        for key, operation in _operations(document).items()
        if any(p["name"].lower() == "idempotency-key" for p in operation.get("parameters", []))
    }
    assert {(op.method, op.path) for op in OPERATIONS if op.creates} == takes_key


def _public_methods(resource: object) -> set[str]:
    return {
        name
        for name, member in inspect.getmembers(type(resource), inspect.isfunction)
        if not name.startswith("_")
    }


@pytest.mark.parametrize("client_class", [ThreadsClient, AsyncThreadsClient])
def test_each_operation_has_its_method_and_each_method_its_operation(
    client_class: type[ThreadsClient] | type[AsyncThreadsClient],
) -> None:
    client = client_class(base_url="http://127.0.0.1:9", api_key="tk_unused")
    declared = {op.sdk_method for op in OPERATIONS}
    resources = {op.sdk_method.split(".")[0] for op in OPERATIONS}
    defined = {
        f"{name}.{method}"
        for name in resources
        for method in _public_methods(getattr(client, name))
    }
    assert defined - LOCAL_METHODS == declared
