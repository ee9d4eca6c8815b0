"""No URL the service emits is built from a header a client can forge (contract §16):
`Location` and `Link` are relative, or under THREADS_API_PUBLIC_URL; no trailing-slash
redirect exists to carry a forged host."""

import re
from typing import Any

import httpx
import pytest

from tests.helpers import Api, problem
from threads_api.config import Settings

EVIL = "evil.example"
FORGED = {
    "Host": EVIL,
    "X-Forwarded-Host": EVIL,
    "X-Forwarded-Proto": "gopher",
    "Forwarded": f"host={EVIL};proto=https",
}
LINK = re.compile(r'^<(?P<url>[^>]+)>; rel="next"$')
PUBLIC_URL = "https://api.example.com/threads"


async def _arrange(api: Api) -> dict[str, str]:
    """Two of everything, so that every list has a second page at `limit=1`."""
    space = await api.space("one")
    await api.space("two")
    thread = await api.thread(space["id"])
    await api.thread(space["id"], "another")
    await api.message(space["id"], thread["id"])
    await api.key(["read"], [space["id"]])
    return {"space": space["id"], "thread": thread["id"]}


def _requests(ids: dict[str, str]) -> list[tuple[str, str, dict[str, Any] | None]]:
    threads = f"/v1/spaces/{ids['space']}/threads"
    messages = f"{threads}/{ids['thread']}/messages"
    return [
        ("POST", "/v1/spaces", {"name": "made"}),
        ("POST", f"{threads}/messages", {"content": "made"}),
        ("POST", messages, {"content": "made"}),
        ("POST", "/v1/api-keys", {"name": "made", "scopes": ["admin"]}),
        ("GET", "/v1/spaces?limit=1", None),
        ("GET", "/v1/api-keys?limit=1", None),
        ("GET", f"{threads}?limit=1&order=asc", None),
        ("GET", f"{messages}?limit=1", None),
        ("GET", "/v1/spaces/", None),
        ("POST", "/v1/spaces/", {"name": "slash"}),
        ("GET", "/nowhere", None),
    ]


async def test_a_forged_host_appears_in_no_header_and_no_body(
    api: Api, client: httpx.AsyncClient
) -> None:
    ids = await _arrange(api)
    for method, path, body in _requests(ids):
        # A POST is sent twice with one key: the second answer is a replay.
        headers = {**FORGED, "Idempotency-Key": f"forged-{path}"} if method == "POST" else FORGED
        for _ in range(2 if method == "POST" else 1):
            response = await client.request(method, path, json=body, headers=headers)
            assert response.status_code < 500, (path, response.text)
            shown = " ".join(f"{k}: {v}" for k, v in response.headers.items()) + response.text
            assert EVIL not in shown and "gopher" not in shown, (method, path, shown)


async def test_location_and_link_are_relative_by_default(
    api: Api, client: httpx.AsyncClient
) -> None:
    ids = await _arrange(api)
    created = await client.post("/v1/spaces", json={"name": "where"}, headers=FORGED)
    assert created.headers["location"] == f"/v1/spaces/{created.json()['id']}"

    path = f"/v1/spaces/{ids['space']}/threads"
    page = await client.get(path, params={"limit": 1, "status": "all"}, headers=FORGED)
    match = LINK.match(page.headers["link"])
    assert match, page.headers["link"]
    url = httpx.URL(match["url"])
    assert not url.is_absolute_url
    assert url.path == path
    assert dict(url.params) == {
        "limit": "1",
        "status": "all",
        "cursor": page.json()["next_cursor"],
    }
    # Resolved against the URL asked, the next page is the same list.
    following = await client.get(match["url"])
    assert following.status_code == 200
    assert following.json()["data"][0]["id"] != page.json()["data"][0]["id"]


class TestPublicUrl:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"public_url": PUBLIC_URL + "/"}

    async def test_location_and_link_are_under_the_public_url(
        self, api: Api, client: httpx.AsyncClient
    ) -> None:
        ids = await _arrange(api)
        for key in ("first", "first"):  # the second is a replay: same Location
            created = await client.post(
                "/v1/spaces", json={"name": "x"}, headers={**FORGED, "Idempotency-Key": key}
            )
            assert created.status_code == 201, created.text
            assert created.headers["location"] == f"{PUBLIC_URL}/v1/spaces/{created.json()['id']}"

        page = await client.get(
            f"/v1/spaces/{ids['space']}/threads", params={"limit": 1}, headers=FORGED
        )
        match = LINK.match(page.headers["link"])
        assert match, page.headers["link"]
        assert match["url"].startswith(f"{PUBLIC_URL}/v1/spaces/{ids['space']}/threads?")


async def test_a_trailing_slash_is_a_404_problem_not_a_redirect(
    api: Api, client: httpx.AsyncClient
) -> None:
    space = await api.space()
    for method, path in [
        ("GET", "/v1/spaces/"),
        ("POST", "/v1/spaces/"),
        ("GET", f"/v1/spaces/{space['id']}/"),
        ("GET", f"/v1/spaces/{space['id']}/threads/"),
    ]:
        response = await client.request(method, path, json={"name": "x"})
        problem(response, 404, "not_found")
        assert "location" not in response.headers


@pytest.mark.parametrize(
    "value",
    [
        "ftp://api.example.com",
        "api.example.com",
        "https://",
        "https://api.example.com/?a=1",
        "https://api.example.com/#top",
        "https://user:pass@api.example.com",
        "https://api.example.com/a b",
        "https://api.example.com\r\nX-Evil: 1",
        "https://api.example.com:99999",
        "https://api.example.com:port",
    ],
)
def test_a_bad_public_url_is_refused_at_start(value: str) -> None:
    with pytest.raises(ValueError, match="public_url"):
        Settings(_env_file=None, public_url=value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://api.example.com/", "https://api.example.com"),
        ("http://localhost:8000", "http://localhost:8000"),
        ("https://example.com/threads-api/", "https://example.com/threads-api"),
        ("", None),
    ],
)
def test_a_public_url_is_kept_without_its_trailing_slash(value: str, expected: str | None) -> None:
    assert Settings(_env_file=None, public_url=value).public_url == expected
