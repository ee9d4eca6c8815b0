"""Reading a thread: the representation, 404s, and the counters each message updates."""

from tests.helpers import problem
from tests.thread.support import get, thread_url, threads_url


class TestRead:
    async def test_retrieve_thread(self, api, client):
        space = await api.space()
        thread = await api.thread(space["id"], "Hello there", thread_metadata={"k": "v"})

        response = await client.get(thread_url(thread))

        assert response.status_code == 200
        body = response.json()
        assert body == thread
        assert body["object"] == "thread"
        assert body["id"].startswith("thr_")
        assert body["space_id"] == space["id"]
        assert body["title"] == "Hello there"
        assert body["status"] == "open"
        assert body["metadata"] == {"k": "v"}
        assert body["message_count"] == 1
        assert body["archived_at"] is None

    async def test_retrieve_thread_of_another_space_is_404(self, api, client):
        space = await api.space()
        other = await api.space("other")
        thread = await api.thread(space["id"])

        response = await client.get(f"{threads_url(other['id'])}/{thread['id']}")

        problem(response, 404, "thread_not_found")

    async def test_retrieve_malformed_thread_id_is_404(self, api, client):
        space = await api.space()

        response = await client.get(f"{threads_url(space['id'])}/thr_nope")

        assert response.status_code == 404


class TestCounters:
    async def test_each_message_updates_count_and_times(self, api, client):
        space = await api.space()
        thread = await api.thread(space["id"])
        previous = thread
        for expected_count in (2, 3, 4):
            message = await api.message(space["id"], thread["id"])

            current = await get(client, thread)

            assert message["seq"] == expected_count
            assert current["message_count"] == expected_count
            assert current["last_message_at"] == message["created_at"]
            assert current["updated_at"] == message["created_at"]
            assert current["last_message_at"] > previous["last_message_at"]
            assert current["created_at"] == thread["created_at"]
            previous = current
