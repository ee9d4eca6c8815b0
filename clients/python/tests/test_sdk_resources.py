"""Every SDK method against a real server, on SQLite and on PostgreSQL."""

import pytest
from sdk_servers import ADMIN_KEY, Server
from threads_api_client import (
    NOT_GIVEN,
    ApiKeyWithSecret,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
    PreconditionFailedError,
    Space,
    ThreadsClient,
    ValidationError,
)

pytestmark = pytest.mark.slow


def test_spaces(client: ThreadsClient) -> None:
    created = client.spaces.create(name="Support", metadata={"team": "emea"})
    assert created.response.status_code == 201 and created.response.location
    assert created.response.idempotency_key and not created.response.idempotent_replayed
    assert client.spaces.retrieve(created.id) == created
    updated = client.spaces.update(created.id, metadata={"team": None, "tier": "gold"})
    assert (updated.name, updated.metadata) == ("Support", {"tier": "gold"})
    assert client.spaces.update(created.id, name="Help").name == "Help"
    assert client.spaces.update(created.id, metadata=None).metadata == {}
    assert created.id in [space.id for space in client.spaces.list(limit=1)]


def test_threads(client: ThreadsClient, space: Space) -> None:
    started = client.threads.create_with_message(
        space.id,
        content="My order has not arrived\nIt was due on Monday.",
        author="alice",
        metadata={"channel": "email"},
        thread_metadata={"order": "1042"},
    )
    thread, first = started.thread, started.message
    assert (thread.title, thread.message_count, thread.metadata) == (
        "My order has not arrived",
        1,
        {"order": "1042"},
    )
    assert (first.seq, first.author, first.metadata) == (1, "alice", {"channel": "email"})
    assert started.etag and started.thread.etag is None

    read = client.threads.retrieve(space.id, thread.id)
    assert read.etag and read.response.request_id
    renamed = client.threads.update(space.id, thread.id, title="Order 1042", if_match=read.etag)
    assert renamed.title == "Order 1042" and renamed.etag != read.etag
    with pytest.raises(PreconditionFailedError) as stale:
        client.threads.update(space.id, thread.id, title="Stale", if_match=read.etag)
    assert (stale.value.status, stale.value.code) == (412, "precondition_failed")
    assert client.threads.update(space.id, thread.id, title=NOT_GIVEN).title == "Order 1042"

    archived = client.threads.archive(space.id, thread.id, if_match=renamed.etag)
    assert archived.status == "archived" and archived.archived_at is not None
    assert list(client.threads.list(space.id)) == []
    assert [t.id for t in client.threads.list(space.id, status="archived")] == [thread.id]
    restored = client.threads.update(space.id, thread.id, status="open")
    assert restored.status == "open" and restored.archived_at is None

    second = client.threads.create_with_message(space.id, content="second", title="Two").thread
    by_creation = client.threads.list(space.id, sort="created_at", order="asc", limit=1)
    assert [t.id for t in by_creation] == [thread.id, second.id]


def test_messages_and_pages(client: ThreadsClient, space: Space) -> None:
    thread = client.threads.create_with_message(space.id, content="1").thread
    for n in range(2, 6):
        message = client.messages.create(space.id, thread.id, content=str(n), author="bob")
        assert message.seq == n and message.response.status_code == 201

    assert [m.seq for m in client.messages.list(space.id, thread.id, limit=2)] == [1, 2, 3, 4, 5]
    page = client.messages.list(space.id, thread.id, limit=2).first_page()
    assert [m.seq for m in page] == [1, 2] and page.has_more and page.next_cursor
    rest = client.messages.list(space.id, thread.id, limit=2, cursor=page.next_cursor)
    assert [m.seq for m in rest.first_page()] == [3, 4]
    assert [len(p) for p in rest.pages()] == [2, 1]
    newest = client.messages.list(space.id, thread.id, order="desc", limit=3).first_page()
    assert [m.seq for m in newest.data] == [5, 4, 3]
    assert [m.seq for m in client.messages.list(space.id, thread.id, after_seq=4)] == [5]
    other_order = client.messages.list(space.id, thread.id, order="desc", cursor=page.next_cursor)
    with pytest.raises(BadRequestError) as bad_cursor:
        other_order.first_page()
    assert bad_cursor.value.code == "invalid_cursor"

    fifth = client.messages.list(space.id, thread.id, after_seq=4).first_page().data[0]
    read = client.messages.retrieve(space.id, thread.id, fifth.id)
    assert read.content == "5" and read.etag
    edited = client.messages.update(
        space.id, thread.id, fifth.id, content="five", metadata={"k": "v"}, if_match=read.etag
    )
    assert (edited.content, edited.version, edited.metadata) == ("five", 2, {"k": "v"})
    versions = list(client.messages.list_versions(space.id, thread.id, fifth.id))
    assert [(v.version, v.content) for v in versions] == [(1, "5")]
    erased = client.messages.erase(space.id, thread.id, fifth.id)
    assert erased.content is None and erased.deleted_at is not None
    assert list(client.messages.list_versions(space.id, thread.id, fifth.id)) == []


def test_api_keys_and_access(server: Server, client: ThreadsClient, space: Space) -> None:
    created = client.api_keys.create(name="dashboard", scopes=["read"], space_ids=[space.id])
    assert isinstance(created, ApiKeyWithSecret) and created.secret.startswith("tk_")
    assert created.id in [key.id for key in client.api_keys.list()]
    assert client.api_keys.retrieve(created.id).prefix == created.prefix
    thread = client.threads.create_with_message(space.id, content="hi").thread
    other = client.spaces.create(name="Sales")

    with ThreadsClient(base_url=server.url, api_key=created.secret) as reader:
        assert [t.id for t in reader.threads.list(space.id)] == [thread.id]
        with pytest.raises(PermissionDeniedError) as forbidden:
            reader.messages.create(space.id, thread.id, content="hi")
        assert (forbidden.value.status, forbidden.value.code) == (403, "forbidden")
        with pytest.raises(NotFoundError) as invisible:
            list(reader.threads.list(other.id))
        assert invisible.value.code == "space_not_found"
        assert client.api_keys.revoke(created.id).revoked_at is not None
        with pytest.raises(AuthenticationError) as revoked:
            reader.spaces.retrieve(space.id)
        assert (revoked.value.status, revoked.value.code) == (401, "unauthorized")
        assert revoked.value.request_id and created.secret not in str(revoked.value)


def test_errors_carry_the_problem(client: ThreadsClient, space: Space) -> None:
    with pytest.raises(NotFoundError) as missing:
        client.threads.retrieve(space.id, "thr_00000000000000000000000000")
    error = missing.value
    assert (error.status, error.code) == (404, "thread_not_found")
    assert error.detail and error.title and error.request_id
    assert error.request_id in str(error) and "thread_not_found" in str(error)
    assert error.response is not None and error.response.status_code == 404

    with pytest.raises(ValidationError) as invalid:
        client.messages.list(space.id, "thr_00000000000000000000000000", limit=1000).first_page()
    assert invalid.value.errors and invalid.value.errors[0].loc[0] == "query"


def test_ids_stay_one_path_segment(client: ThreadsClient, space: Space) -> None:
    with pytest.raises(NotFoundError) as escaped:
        client.threads.retrieve(space.id, "../../../api-keys")
    response = escaped.value.response
    assert response is not None
    assert response.request.url.raw_path.endswith(b"/threads/..%2F..%2F..%2Fapi-keys")
    with pytest.raises(ValueError, match="thread_id"):
        client.threads.retrieve(space.id, "")


def test_the_key_comes_from_the_environment(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THREADS_API_URL", server.url)
    monkeypatch.setenv("THREADS_API_KEY", ADMIN_KEY)
    with ThreadsClient() as from_env:
        assert from_env.spaces.list().first_page().response.status_code == 200
