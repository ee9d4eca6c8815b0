"""Unknown and server-owned fields are refused on create and on patch, and named in `errors`."""

from tests.field_rules.support import (
    assert_422,
    message_count,
    new_thread,
    post_message,
    post_thread,
    thread_url,
)

SERVER_OWNED_MESSAGE = {
    "id": "msg_01ARZ3NDEKTSV4RRFFQ69G5FAV",
    "object": "message",
    "seq": 99,
    "space_id": "spc_01ARZ3NDEKTSV4RRFFQ69G5FAV",
    "thread_id": "thr_01ARZ3NDEKTSV4RRFFQ69G5FAV",
    "created_at": "2020-01-01T00:00:00.000000Z",
    "colour": "red",
}
SERVER_OWNED_THREAD = {
    "id": "thr_01ARZ3NDEKTSV4RRFFQ69G5FAV",
    "space_id": "spc_01ARZ3NDEKTSV4RRFFQ69G5FAV",
    "created_at": "2020-01-01T00:00:00.000000Z",
    "updated_at": "2020-01-01T00:00:00.000000Z",
    "last_message_at": "2020-01-01T00:00:00.000000Z",
    "archived_at": "2020-01-01T00:00:00.000000Z",
    "message_count": 7,
    "colour": "red",
}


async def test_message_create_refuses_unknown_and_server_owned_fields(api, client):
    thread = await new_thread(api)

    for field, value in SERVER_OWNED_MESSAGE.items():
        response = await post_message(client, thread, **{field: value})

        assert response.status_code == 422, field
    assert_422(response)
    assert await message_count(client, thread) == 1


async def test_thread_create_refuses_unknown_and_server_owned_fields(api, client):
    space = await api.space()

    for field, value in {**SERVER_OWNED_THREAD, "status": "locked", "seq": 1}.items():
        response = await post_thread(client, space["id"], **{field: value})

        assert response.status_code == 422, field
    assert_422(response)
    assert (await client.get(f"/v1/spaces/{space['id']}/threads")).json()["data"] == []


async def test_thread_patch_refuses_unknown_and_server_owned_fields(api, client):
    thread = await new_thread(api)

    for field, value in SERVER_OWNED_THREAD.items():
        response = await client.patch(thread_url(thread), json={field: value, "title": "new"})

        assert response.status_code == 422, field
    assert_422(response)
    assert (await client.get(thread_url(thread))).json() == thread


async def test_unknown_field_is_named_in_errors(api, client):
    thread = await new_thread(api)

    response = await post_message(client, thread, colour="red")

    assert any("colour" in [str(part) for part in e["loc"]] for e in response.json()["errors"])
