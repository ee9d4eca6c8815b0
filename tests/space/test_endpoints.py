"""Spaces: create, read, list, merge-patch, metadata limits (contract §3, §10)."""

import re
from typing import Any

import httpx

from tests.helpers import problem

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
SPACE_ID = re.compile(r"spc_[0-9A-HJKMNP-TV-Z]{26}")


def full_metadata(count: int = 16) -> dict[str, str]:
    return {f"k{n}": f"v{n}" for n in range(count)}


OVER_THE_LIMIT: list[dict[str, str]] = [
    full_metadata(17),
    {"": "v"},
    {"k" * 65: "v"},
    {"k": "v" * 513},
    {"k\u0000": "v"},
    {"k": "v\u0000"},
]


class TestCreate:
    async def test_create_answers_201_with_location(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/v1/spaces", json={"name": "Support", "metadata": {"team": "blue"}}
        )
        assert response.status_code == 201, response.text
        space = response.json()
        assert set(space) == {"id", "object", "name", "metadata", "created_at", "updated_at"}
        assert SPACE_ID.fullmatch(space["id"])
        assert space["object"] == "space"
        assert space["name"] == "Support"
        assert space["metadata"] == {"team": "blue"}
        assert TIMESTAMP.fullmatch(space["created_at"])
        assert space["updated_at"] == space["created_at"]
        assert response.headers["location"] == f"/v1/spaces/{space['id']}"
        assert (await client.get(response.headers["location"])).json() == space

    async def test_metadata_defaults_to_empty(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/spaces", json={"name": "plain"})
        assert response.json()["metadata"] == {}

    async def test_ids_are_unique_and_increasing(self, api) -> None:
        ids = [(await api.space(f"s{n}"))["id"] for n in range(5)]
        assert ids == sorted(ids)
        assert len(set(ids)) == 5

    async def test_invalid_body_is_422(self, client: httpx.AsyncClient) -> None:
        for body in [
            {},
            {"name": ""},
            {"name": "x" * 201},
            {"name": None},
            {"name": 5},
            {"name": "a\u0000b"},
            {"name": "ok", "id": "spc_" + "0" * 26},
            {"name": "ok", "metadata": {"k": 1}},
            {"name": "ok", "metadata": ["k"]},
            {"name": "ok", "metadata": {"k": None}},
            [],
        ]:
            answer = problem(await client.post("/v1/spaces", json=body), 422)
            assert answer["code"] == "validation_failed", body
            assert answer["errors"], body
        assert (await client.get("/v1/spaces")).json()["data"] == []

    async def test_name_limits_are_characters(self, client: httpx.AsyncClient) -> None:
        name = "é" * 200  # 400 bytes, 200 characters
        response = await client.post("/v1/spaces", json={"name": name})
        assert response.status_code == 201
        assert response.json()["name"] == name


class TestMetadataLimits:
    async def test_limits_are_inclusive(self, client: httpx.AsyncClient) -> None:
        metadata = full_metadata(15) | {"k" * 64: "v" * 512}
        response = await client.post("/v1/spaces", json={"name": "s", "metadata": metadata})
        assert response.status_code == 201, response.text
        assert response.json()["metadata"] == metadata

    async def test_empty_value_is_allowed(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/spaces", json={"name": "s", "metadata": {"k": ""}})
        assert response.status_code == 201, response.text

    async def test_over_the_limit_is_422(self, client: httpx.AsyncClient) -> None:
        for metadata in OVER_THE_LIMIT:
            response = await client.post("/v1/spaces", json={"name": "s", "metadata": metadata})
            problem(response, 422)
        assert (await client.get("/v1/spaces")).json()["data"] == []

    async def test_over_the_limit_in_a_patch_is_422(self, client: httpx.AsyncClient, api) -> None:
        space = await api.space()
        for metadata in OVER_THE_LIMIT:
            response = await client.patch(f"/v1/spaces/{space['id']}", json={"metadata": metadata})
            problem(response, 422)
        assert (await client.get(f"/v1/spaces/{space['id']}")).json() == space

    async def test_limit_applies_to_the_merged_result(self, client: httpx.AsyncClient) -> None:
        created = await client.post("/v1/spaces", json={"name": "s", "metadata": full_metadata()})
        space = created.json()
        path = f"/v1/spaces/{space['id']}"

        response = await client.patch(path, json={"metadata": {"new": "x"}})
        body = problem(response, 422)
        assert body["errors"]
        assert (await client.get(path)).json() == space

        # Replacing one key and removing another keeps it at 16: allowed.
        response = await client.patch(path, json={"metadata": {"k0": None, "new": "x", "k1": "y"}})
        assert response.status_code == 200, response.text
        metadata = response.json()["metadata"]
        assert len(metadata) == 16
        assert "k0" not in metadata
        assert metadata["new"] == "x"
        assert metadata["k1"] == "y"


class TestRead:
    async def test_get(self, client: httpx.AsyncClient, api) -> None:
        space = await api.space("one")
        response = await client.get(f"/v1/spaces/{space['id']}")
        assert response.status_code == 200
        assert response.json() == space

    async def test_get_missing_is_404(self, client: httpx.AsyncClient) -> None:
        body = problem(await client.get("/v1/spaces/spc_" + "0" * 26), 404)
        assert body["code"] == "space_not_found"

    async def test_list_in_creation_order(self, client: httpx.AsyncClient, api) -> None:
        spaces = [await api.space(f"s{n}") for n in range(5)]
        seen: list[dict[str, Any]] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 2}
            if cursor:
                params["cursor"] = cursor
            page = (await client.get("/v1/spaces", params=params)).json()
            seen += page["data"]
            if not page["has_more"]:
                assert page["next_cursor"] is None
                break
            cursor = page["next_cursor"]
        assert seen == spaces

    async def test_list_default_page(self, client: httpx.AsyncClient, api) -> None:
        space = await api.space()
        response = await client.get("/v1/spaces")
        assert response.json() == {
            "object": "list",
            "data": [space],
            "has_more": False,
            "next_cursor": None,
        }

    async def test_bad_limit_is_422(self, client: httpx.AsyncClient) -> None:
        for limit in ["0", "201", "-1", "x", ""]:
            problem(await client.get("/v1/spaces", params={"limit": limit}), 422)

    async def test_bound_key_lists_only_its_spaces(self, client: httpx.AsyncClient, api) -> None:
        a, b, c = await api.space("a"), await api.space("b"), await api.space("c")
        secret = await api.key(["read"], [a["id"], c["id"]])
        response = await client.get("/v1/spaces", headers={"X-API-Key": secret})
        assert response.status_code == 200
        assert [s["id"] for s in response.json()["data"]] == [a["id"], c["id"]]

        page = await client.get("/v1/spaces", params={"limit": 1}, headers={"X-API-Key": secret})
        first = page.json()
        assert [s["id"] for s in first["data"]] == [a["id"]]
        assert first["has_more"] is True
        second = await client.get(
            "/v1/spaces",
            params={"limit": 1, "cursor": first["next_cursor"]},
            headers={"X-API-Key": secret},
        )
        assert [s["id"] for s in second.json()["data"]] == [c["id"]]
        assert second.json()["has_more"] is False
        hidden = await client.get(f"/v1/spaces/{b['id']}", headers={"X-API-Key": secret})
        problem(hidden, 404)

    async def test_bound_key_gets_its_space(self, client: httpx.AsyncClient, api) -> None:
        space = await api.space()
        secret = await api.key(["read"], [space["id"]])
        response = await client.get(f"/v1/spaces/{space['id']}", headers={"X-API-Key": secret})
        assert response.json() == space


class TestMergePatch:
    async def test_rename(self, client: httpx.AsyncClient) -> None:
        created = await client.post("/v1/spaces", json={"name": "old", "metadata": {"a": "1"}})
        space = created.json()
        response = await client.patch(f"/v1/spaces/{space['id']}", json={"name": "new"})
        assert response.status_code == 200, response.text
        patched = response.json()
        assert patched["name"] == "new"
        assert patched["metadata"] == {"a": "1"}
        assert patched["created_at"] == space["created_at"]
        assert patched["updated_at"] > space["updated_at"]
        assert (await client.get(f"/v1/spaces/{space['id']}")).json() == patched

    async def test_metadata_merges(self, client: httpx.AsyncClient) -> None:
        created = await client.post(
            "/v1/spaces", json={"name": "s", "metadata": {"a": "1", "b": "2", "c": "3"}}
        )
        space = created.json()
        response = await client.patch(
            f"/v1/spaces/{space['id']}",
            json={"metadata": {"a": "10", "b": None, "d": "4", "missing": None}},
        )
        assert response.status_code == 200, response.text
        assert response.json()["metadata"] == {"a": "10", "c": "3", "d": "4"}
        assert response.json()["name"] == "s"

    async def test_metadata_null_removes_all(self, client: httpx.AsyncClient) -> None:
        created = await client.post("/v1/spaces", json={"name": "s", "metadata": {"a": "1"}})
        space = created.json()
        response = await client.patch(f"/v1/spaces/{space['id']}", json={"metadata": None})
        assert response.status_code == 200, response.text
        assert response.json()["metadata"] == {}
        assert (await client.get(f"/v1/spaces/{space['id']}")).json()["metadata"] == {}

    async def test_name_null_is_422(self, client: httpx.AsyncClient, api) -> None:
        space = await api.space("keep")
        response = await client.patch(f"/v1/spaces/{space['id']}", json={"name": None})
        assert problem(response, 422)["errors"]
        assert (await client.get(f"/v1/spaces/{space['id']}")).json() == space

    async def test_empty_patch_changes_nothing(self, client: httpx.AsyncClient, api) -> None:
        space = await api.space()
        response = await client.patch(f"/v1/spaces/{space['id']}", json={})
        assert response.status_code == 200
        assert response.json() == space

    async def test_merge_patch_content_type(self, client: httpx.AsyncClient, api) -> None:
        space = await api.space()
        response = await client.patch(
            f"/v1/spaces/{space['id']}",
            content=b'{"name": "merged"}',
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert response.status_code == 200, response.text
        assert response.json()["name"] == "merged"

    async def test_invalid_patch_is_422(self, client: httpx.AsyncClient, api) -> None:
        space = await api.space()
        for body in [
            {"id": "spc_" + "0" * 26},
            {"created_at": "2020-01-01T00:00:00Z"},
            {"name": ""},
            {"name": "x" * 201},
            {"name": "a\u0000"},
            [],
        ]:
            problem(await client.patch(f"/v1/spaces/{space['id']}", json=body), 422)
        assert (await client.get(f"/v1/spaces/{space['id']}")).json() == space

    async def test_patch_missing_space_is_404(self, client: httpx.AsyncClient) -> None:
        response = await client.patch("/v1/spaces/spc_" + "0" * 26, json={"name": "x"})
        problem(response, 404)
