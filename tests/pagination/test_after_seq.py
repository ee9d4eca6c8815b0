"""`after_seq` polling of a thread's messages, alone and with a cursor."""

from tests.pagination.support import arrange_messages, collect, page


async def test_after_seq_returns_only_newer_messages(api, client):
    path, _ = await arrange_messages(api, count=6)

    response = await page(client, path, after_seq=3)

    assert [m["seq"] for m in response.json()["data"]] == [4, 5, 6]


async def test_after_seq_at_the_newest_is_empty(api, client):
    path, _ = await arrange_messages(api, count=3)

    response = await page(client, path, after_seq=3)

    assert response.json()["data"] == []
    assert response.json()["has_more"] is False


async def test_after_seq_sees_a_message_posted_later(api, client):
    path, thread = await arrange_messages(api, count=2)
    await api.message(thread["space_id"], thread["id"], "new")

    response = await page(client, path, after_seq=2)

    assert [m["content"] for m in response.json()["data"]] == ["new"]


async def test_after_seq_combines_with_cursor(api, client):
    path, _ = await arrange_messages(api, count=7)

    asc = [m["seq"] for m in await collect(client, path, 2, after_seq=2)]
    desc = [m["seq"] for m in await collect(client, path, 2, after_seq=2, order="desc")]

    assert asc == [3, 4, 5, 6, 7]
    assert desc == [7, 6, 5, 4, 3]


async def test_negative_after_seq_is_422(api, client):
    path, _ = await arrange_messages(api, count=1)

    for value in ("-1", "abc"):
        response = await page(client, path, after_seq=value)

        assert response.status_code == 422, value
