"""GET thread reads on a plain driver connection and renders the row itself (reads.py): its
body must be byte for byte what the response model makes of the same thread, which is what
every write of a thread answers with."""

from typing import Any

from tests.thread.support import patch, thread_url

# Characters JSON encoders disagree on: quotes, backslash, controls, non-ASCII, beyond the BMP,
# the line separators JavaScript chokes on.
AWKWARD = 'q"uote \\ back\tslash \x01 é 中 🙂 \u2028\u2029 </script>'


async def assert_read_matches_written(client, written) -> None:
    assert written.status_code == 200, written.text
    read = await client.get(thread_url(written.json()))
    assert read.status_code == 200
    assert read.content == written.content
    assert read.headers["etag"] == written.headers["etag"]
    assert read.headers["content-type"] == written.headers["content-type"]


class TestPlainRead:
    async def arrange(self, api, **fields: Any) -> dict[str, Any]:
        space = await api.space()
        return await api.thread(space["id"], **fields)

    async def test_a_thread_with_its_last_message(self, api, client):
        thread = await self.arrange(api, content=AWKWARD)
        await api.message(thread["space_id"], thread["id"], content=AWKWARD * 20)

        written = await patch(client, thread, {"title": AWKWARD, "metadata": {AWKWARD: AWKWARD}})

        assert written.json()["last_message"]["preview"] == (AWKWARD * 20)[:200]
        await assert_read_matches_written(client, written)

    async def test_many_metadata_keys_keep_their_order(self, api, client):
        thread = await self.arrange(api)
        metadata = {f"k{n:02d}-{'é' * n}": f"v{n}" for n in reversed(range(16))}

        await assert_read_matches_written(
            client, await patch(client, thread, {"metadata": metadata})
        )

    async def test_archived_and_restored(self, api, client):
        thread = await self.arrange(api)

        archived = await client.delete(thread_url(thread))
        assert archived.json()["archived_at"] is not None
        await assert_read_matches_written(client, archived)
        await assert_read_matches_written(client, await patch(client, thread, {"status": "open"}))

    async def test_a_thread_whose_only_message_is_erased(self, api, client):
        thread = await self.arrange(api)
        message_url = f"{thread_url(thread)}/messages/{thread['last_message']['id']}"
        assert (await client.delete(message_url)).status_code == 200

        written = await patch(client, thread, {"metadata": {"after": "erasure"}})

        assert written.json()["last_message"] is None
        await assert_read_matches_written(client, written)
