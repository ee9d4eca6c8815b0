"""`limit` is 1–200 on every list; anything else is 422."""

from tests.pagination.support import list_paths, page


async def test_limit_out_of_bounds_is_422(api, client):
    for path in await list_paths(api):
        for limit in ("0", "201", "-1", "abc", "1.5", ""):
            response = await page(client, path, limit=limit)

            assert response.status_code == 422, (path, limit, response.text)
            assert response.json()["code"] == "validation_failed"


async def test_limit_bounds_are_accepted(api, client):
    for path in await list_paths(api):
        for limit in (1, 200):
            response = await page(client, path, limit=limit)

            assert response.status_code == 200, (path, limit, response.text)
            assert len(response.json()["data"]) == 1
