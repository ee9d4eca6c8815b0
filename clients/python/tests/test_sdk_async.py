"""AsyncThreadsClient against a real server, on SQLite and on PostgreSQL."""

import asyncio

import pytest
from sdk_servers import ADMIN_KEY, Server
from threads_api_client import (
    AsyncThreadsClient,
    NotFoundError,
    PreconditionFailedError,
    ThreadClosedError,
)

pytestmark = pytest.mark.slow


async def test_the_workflow(server: Server) -> None:
    async with AsyncThreadsClient(base_url=server.url, api_key=ADMIN_KEY) as client:
        space = await client.spaces.create(name="async", metadata={"a": "1"})
        assert (await client.spaces.retrieve(space.id)).metadata == {"a": "1"}
        assert (await client.spaces.update(space.id, name="renamed")).name == "renamed"
        assert space.id in [s.id async for s in client.spaces.list()]

        started = await client.threads.create_with_message(space.id, content="1", title="T")
        thread = started.thread
        await asyncio.gather(
            *(client.messages.create(space.id, thread.id, content=str(n)) for n in range(5))
        )
        seqs = [m.seq async for m in client.messages.list(space.id, thread.id, limit=2)]
        assert seqs == [1, 2, 3, 4, 5, 6]
        page = await client.messages.list(space.id, thread.id, limit=4).first_page()
        assert len(page) == 4 and page.has_more
        pages = client.messages.list(space.id, thread.id, limit=4).pages()
        assert [len(p) async for p in pages] == [4, 2]

        read = await client.threads.retrieve(space.id, thread.id)
        assert read.message_count == 6
        await client.threads.update(space.id, thread.id, status="locked", if_match=read.etag)
        with pytest.raises(PreconditionFailedError):
            await client.threads.archive(space.id, thread.id, if_match=read.etag)
        with pytest.raises(ThreadClosedError):
            await client.messages.create(space.id, thread.id, content="closed")
        assert (await client.threads.archive(space.id, thread.id)).status == "archived"
        assert [t.id async for t in client.threads.list(space.id, status="all")] == [thread.id]

        message = await client.messages.retrieve(space.id, thread.id, started.message.id)
        with pytest.raises(ThreadClosedError):  # edits need an open thread
            await client.messages.update(space.id, thread.id, message.id, content="one")
        await client.threads.update(space.id, thread.id, status="open")
        edited = await client.messages.update(space.id, thread.id, message.id, content="one")
        assert edited.version == 2
        versions = client.messages.list_versions(space.id, thread.id, message.id)
        assert [v.content async for v in versions] == ["1"]
        erased = await client.messages.erase(space.id, thread.id, message.id, if_match=edited.etag)
        assert erased.content is None

        key = await client.api_keys.create(name="k", scopes=["write"], space_ids=[space.id])
        assert key.secret and key.response.status_code == 201
        assert (await client.api_keys.retrieve(key.id)).name == "k"
        assert key.id in [k.id async for k in client.api_keys.list(limit=1)]
        assert (await client.api_keys.revoke(key.id)).revoked_at is not None

        with pytest.raises(NotFoundError) as missing:
            await client.messages.retrieve(space.id, thread.id, "msg_00000000000000000000000000")
        assert missing.value.code == "message_not_found" and missing.value.request_id
