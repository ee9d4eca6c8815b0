"""Valid but unusual text round-trips exactly: bidi, emoji sequences, combining marks, SQL- and
HTML-like text, whitespace."""

from tests.field_rules.support import (
    messages_url,
    new_thread,
    post_message,
    post_thread,
    thread_url,
)

ROUND_TRIP = [
    "\u202eRTL override\u202c and \u200fرسالة\u200f mixed",
    "👩\u200d👩\u200d👧\u200d👦 family, 🇫🇷 flag, 👍🏽 tone",
    "e\u0301 (decomposed) vs \u00e9 (composed), Z\u0351\u0332a\u0308l\u0300g\u030do",
    "'; DROP TABLE messages; -- \" OR 1=1 /* */ %s %(x)s ? $1 \\x00",
    "  leading and trailing spaces kept  \n\n\ttabs\r\nCRLF\n",
    "\u200b\ufeff zero-width and BOM \U0010ffff \ue000 private use",
    '<script>alert("x")</script> & &amp; {"json": [1]}',
]


async def test_message_text_round_trips_exactly(api, client):
    thread = await new_thread(api)

    created = [await post_message(client, thread, content=t, author=t[:128]) for t in ROUND_TRIP]

    assert [r.status_code for r in created] == [201] * len(ROUND_TRIP)
    listed = (await client.get(messages_url(thread))).json()["data"][1:]
    for text, response, in_list in zip(ROUND_TRIP, created, listed, strict=True):
        fetched = (await client.get(response.headers["location"])).json()
        for message in (response.json(), fetched, in_list):
            assert message["content"] == text
            assert message["author"] == text[:128]


async def test_thread_text_round_trips_exactly(api, client):
    space = await api.space()

    for text in ROUND_TRIP:
        metadata = {text[:64]: text}

        created = await post_thread(
            client,
            space["id"],
            content=text,
            title=text,
            thread_metadata=metadata,
            metadata=metadata,
        )

        assert created.status_code == 201, created.text
        body = created.json()
        fetched = (await client.get(created.headers["location"])).json()
        for thread in (body["thread"], fetched):
            assert thread["title"] == text
            assert thread["metadata"] == metadata
        assert body["message"]["content"] == text
        assert body["message"]["metadata"] == metadata


async def test_decomposed_and_composed_text_stay_distinct(api, client):
    thread = await new_thread(api)
    decomposed, composed = "e\u0301", "\u00e9"

    first = await post_message(client, thread, content=decomposed)
    second = await post_message(client, thread, content=composed)

    assert first.json()["content"] == decomposed
    assert second.json()["content"] == composed
    listed = (await client.get(messages_url(thread))).json()["data"]
    assert [m["content"] for m in listed[1:]] == [decomposed, composed]


async def test_sql_like_title_patch_round_trips(api, client):
    thread = await new_thread(api)
    title = "Robert'); DROP TABLE threads;--"

    await client.patch(thread_url(thread), json={"title": title, "metadata": {"q": "' OR '1'='1"}})

    fetched = (await client.get(thread_url(thread))).json()
    assert fetched["title"] == title
    assert fetched["metadata"] == {"q": "' OR '1'='1"}
