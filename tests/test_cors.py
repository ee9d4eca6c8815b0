"""CORS behind THREADS_API_CORS_ORIGINS (contract §16)."""

from typing import Any

import httpx
import pytest

from tests.helpers import problem
from threads_api.config import Settings

ALLOWED = "https://app.example"
EXPOSED = {"etag", "location", "link", "idempotent-replayed", "x-request-id", "retry-after"}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"cors_origins": [ALLOWED, "http://localhost:5173"]}


def preflight_headers(origin: str, method: str = "POST", headers: str = "x-api-key") -> dict:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers,
        "X-API-Key": "",  # a browser's preflight never carries credentials
    }


async def test_preflight_from_an_allowed_origin(client: httpx.AsyncClient, api) -> None:
    space = await api.space()
    url = f"/v1/spaces/{space['id']}/threads/messages"
    response = await client.options(
        url,
        headers=preflight_headers(ALLOWED, "POST", "content-type, x-api-key, idempotency-key"),
    )
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == ALLOWED
    allowed_methods = set(response.headers["access-control-allow-methods"].split(", "))
    assert {"GET", "POST", "PATCH", "DELETE"} <= allowed_methods
    allowed_headers = response.headers["access-control-allow-headers"].lower()
    for header in ("x-api-key", "idempotency-key", "if-match", "content-type"):
        assert header in allowed_headers
    assert response.headers["x-request-id"]


async def test_simple_response_exposes_the_contract_headers(client: httpx.AsyncClient, api) -> None:
    space = await api.space()
    response = await client.post(
        f"/v1/spaces/{space['id']}/threads/messages",
        json={"content": "hi"},
        headers={"Origin": ALLOWED, "Idempotency-Key": "k1"},
    )
    assert response.status_code == 201
    assert response.headers["access-control-allow-origin"] == ALLOWED
    exposed = {
        h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")
    }
    assert exposed >= EXPOSED


async def test_preflight_from_another_origin_is_a_problem(client: httpx.AsyncClient, api) -> None:
    space = await api.space()
    response = await client.options(
        f"/v1/spaces/{space['id']}/threads", headers=preflight_headers("https://evil.example")
    )
    body = problem(response, 400, "cors_preflight_rejected")
    assert "evil" not in body["detail"]
    assert "access-control-allow-origin" not in response.headers


async def test_other_origin_gets_no_cors_headers_on_a_request(
    client: httpx.AsyncClient, api
) -> None:
    space = await api.space()
    response = await client.get(
        f"/v1/spaces/{space['id']}", headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


class TestCorsOff:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {}

    async def test_no_origins_means_no_cors(self, client: httpx.AsyncClient, api) -> None:
        space = await api.space()
        url = f"/v1/spaces/{space['id']}"
        response = await client.get(url, headers={"Origin": ALLOWED})
        assert "access-control-allow-origin" not in response.headers
        preflight = await client.options(url, headers=preflight_headers(ALLOWED, "GET"))
        problem(preflight, 405, "method_not_allowed")


def test_origins_are_read_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THREADS_API_CORS_ORIGINS", " https://a.example ,http://localhost:3000,")
    settings = Settings(_env_file=None)
    assert settings.cors_origins == ["https://a.example", "http://localhost:3000"]


def test_an_origin_with_a_path_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THREADS_API_CORS_ORIGINS", "https://a.example/app")
    with pytest.raises(ValueError, match="without a path"):
        Settings(_env_file=None)
