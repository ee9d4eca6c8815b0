"""Creating a thread with its first message: the pair in one response, Location, and the
default title taken from the content."""

from tests.thread.support import thread_url, threads_url


class TestCreateWithFirstMessage:
    async def test_creates_thread_and_message(self, api, client):
        space = await api.space()

        response = await client.post(
            f"{threads_url(space['id'])}/messages",
            json={"content": "Starting a new conversation.", "author": "alice"},
        )

        assert response.status_code == 201, response.text
        body = response.json()
        assert body["object"] == "thread_with_message"
        thread, message = body["thread"], body["message"]
        assert thread["object"] == "thread"
        assert thread["status"] == "open"
        assert thread["message_count"] == 1
        assert thread["last_message_at"] == message["created_at"]
        assert message["object"] == "message"
        assert message["thread_id"] == thread["id"]
        assert message["space_id"] == space["id"]
        assert message["seq"] == 1
        assert message["author"] == "alice"
        assert message["content"] == "Starting a new conversation."

    async def test_location_points_at_the_thread(self, api, client):
        space = await api.space()

        response = await client.post(f"{threads_url(space['id'])}/messages", json={"content": "x"})

        location = response.headers["location"]
        assert location.endswith(
            f"/v1/spaces/{space['id']}/threads/{response.json()['thread']['id']}"
        )
        fetched = await client.get(location)
        assert fetched.status_code == 200
        assert fetched.json() == response.json()["thread"]

    async def test_first_message_is_listed(self, api, client):
        space = await api.space()
        response = await client.post(f"{threads_url(space['id'])}/messages", json={"content": "x"})
        body = response.json()

        listed = await client.get(f"{thread_url(body['thread'])}/messages")

        assert listed.json()["data"] == [body["message"]]

    async def test_default_title_is_first_non_blank_line_trimmed(self, api):
        space = await api.space()

        thread = await api.thread(space["id"], "\n   \n\t  Hello, world!  \nsecond line")

        assert thread["title"] == "Hello, world!"

    async def test_default_title_of_100_characters_is_kept_whole(self, api):
        space = await api.space()
        line = "é" * 100

        thread = await api.thread(space["id"], f"{line}\nmore")

        assert thread["title"] == line

    async def test_default_title_over_100_characters_is_cut_with_ellipsis(self, api):
        space = await api.space()
        line = "".join(chr(ord("a") + i % 26) for i in range(101))

        thread = await api.thread(space["id"], line)

        assert thread["title"] == line[:99] + "…"
        assert len(thread["title"]) == 100

    async def test_default_title_counts_code_points_not_bytes(self, api):
        space = await api.space()
        line = "😀" * 150

        thread = await api.thread(space["id"], line)

        assert thread["title"] == "😀" * 99 + "…"

    async def test_explicit_title_wins(self, api):
        space = await api.space()

        thread = await api.thread(space["id"], "content line", title="  My title ")

        assert thread["title"] == "  My title "

    async def test_thread_metadata_and_message_metadata_are_separate(self, api, client):
        space = await api.space()

        response = await client.post(
            f"{threads_url(space['id'])}/messages",
            json={"content": "x", "metadata": {"m": "1"}, "thread_metadata": {"t": "2"}},
        )

        body = response.json()
        assert body["thread"]["metadata"] == {"t": "2"}
        assert body["message"]["metadata"] == {"m": "1"}

    async def test_author_defaults_to_null(self, api, client):
        space = await api.space()

        response = await client.post(f"{threads_url(space['id'])}/messages", json={"content": "x"})

        assert response.json()["message"]["author"] is None

    async def test_unknown_space_is_404(self, client):
        response = await client.post(
            f"/v1/spaces/spc_{'0' * 26}/threads/messages", json={"content": "x"}
        )

        assert response.status_code == 404
