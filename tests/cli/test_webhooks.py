"""`threads-api webhooks create | list | delete` (issue 14): the API's webhooks, made and
removed from the shell; the secret shown once; bad input is one line that names the option."""

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import standardwebhooks
from click.testing import Result

from tests.cli.support import Invoke, one_line_error
from tests.helpers import Api
from tests.webhook.receiver import Receiver

URL = "https://example.com/hooks/threads"
UNKNOWN_WEBHOOK = "whk_" + "0" * 26
UNKNOWN_SPACE = "spc_" + "0" * 26


async def run(invoke: Invoke, database_url: str, *args: str) -> Result:
    """The command beside the app this test talks to: in a thread, as the command runs its
    own event loop."""
    return await asyncio.to_thread(invoke, *args, "--database-url", database_url)


def ok(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """The app beside the commands delivers to a receiver on this machine."""
    return {"webhooks_allow_private": True, "webhook_timeout_seconds": 2}


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = await Receiver().start()
    yield server
    await server.stop()


async def test_create_list_and_delete_as_the_api_sees_them(
    invoke: Invoke, database_url: str, client: httpx.AsyncClient, api: Api
) -> None:
    first, second = await api.space("a"), await api.space("b")
    created = ok(
        await run(
            invoke,
            database_url,
            "webhooks",
            "create",
            "--url",
            URL,
            "--space",
            second["id"],
            "--space",
            first["id"],
            "--type",
            "message.created",
            "--type",
            "thread.created",
            "--description",
            "support bot",
        )
    )
    assert created["object"] == "webhook"
    assert created["secret"].startswith("whsec_")
    assert created["url"] == URL
    assert created["space_ids"] == sorted([first["id"], second["id"]])
    assert created["types"] == ["message.created", "thread.created"]
    assert created["description"] == "support bot"
    printed = {k: v for k, v in created.items() if k != "secret"}
    assert (await client.get(f"/v1/webhooks/{created['id']}")).json() == printed

    everything = ok(await run(invoke, database_url, "webhooks", "create", "--url", URL))
    assert everything["space_ids"] is None and everything["types"] is None
    assert everything["description"] is None
    from_api = (await client.post("/v1/webhooks", json={"url": URL})).json()

    listed_out = await run(invoke, database_url, "webhooks", "list")
    listed = ok(listed_out)
    assert "whsec_" not in listed_out.stdout
    assert listed == (await client.get("/v1/webhooks")).json()["data"]
    assert [w["id"] for w in listed] == [created["id"], everything["id"], from_api["id"]]

    deleted = ok(await run(invoke, database_url, "webhooks", "delete", created["id"]))
    assert deleted == printed
    assert (await client.get(f"/v1/webhooks/{created['id']}")).status_code == 404
    listed = ok(await run(invoke, database_url, "webhooks", "list"))
    assert [w["id"] for w in listed] == [everything["id"], from_api["id"]]


async def test_the_server_signs_with_the_secret_the_shell_printed(
    invoke: Invoke, database_url: str, api: Api, receiver: Receiver
) -> None:
    args = ("webhooks", "create", "--url", receiver.url, "--type", "thread.created")
    created = ok(await run(invoke, database_url, *args))
    space = await api.space()
    await api.thread(space["id"])

    [request] = await receiver.wait_for(1)

    event = standardwebhooks.Webhook(created["secret"]).verify(request.body, request.headers)
    assert event["type"] == "thread.created"


def test_an_empty_list(invoke: Invoke, database_url: str) -> None:
    assert ok(invoke("webhooks", "list", "--database-url", database_url)) == []


def test_a_missing_database_is_named(invoke: Invoke) -> None:
    for args in (
        ("webhooks", "create", "--url", URL),
        ("webhooks", "list"),
        ("webhooks", "delete", UNKNOWN_WEBHOOK),
    ):
        message = one_line_error(invoke(*args))
        assert message.startswith(f"no database at {Path.cwd() / 'data' / 'threads.db'}: ")
    assert not (Path.cwd() / "data").exists()


BAD_INPUT = [
    (("delete", "nope"), "WEBHOOK_ID: not a webhook id (whk_ and 26 letters or digits)"),
    (("delete", "whk_\x00"), "WEBHOOK_ID: not a webhook id (whk_ and 26 letters or digits)"),
    (("delete", UNKNOWN_WEBHOOK), "Webhook not found"),
    (("create", "--url", "ftp://example.com/"), "--url: must start with http:// or https://"),
    (("create", "--url", "example.com"), "--url: must start with http:// or https://"),
    (
        ("create", "--url", "https://user:pw@example.com/"),
        "--url: must not hold credentials (user:password@)",
    ),
    (("create", "--url", "https://example.com/#top"), "--url: must not have a fragment"),
    (
        ("create", "--url", "https://example.com/a b"),
        "--url: must be printable ASCII without spaces (punycode for other hosts)",
    ),
    (
        ("create", "--url", "https://example.com/" + "a" * 2029),
        "--url: String should have at most 2048 characters",
    ),
    (("create", "--url", URL, "--space", "nope"), "--space: is not a space id"),
    (("create", "--url", URL, "--space", UNKNOWN_SPACE), "--space: unknown space id"),
    (
        ("create", "--url", URL, "--description", "d" * 501),
        "--description: String should have at most 500 characters",
    ),
    (
        ("create", "--url", URL, "--description", "a\x00b"),
        "--description: must not contain the NUL character",
    ),
]


def test_bad_input_names_the_option_and_changes_nothing(invoke: Invoke, database_url: str) -> None:
    def listed() -> str:
        result = invoke("webhooks", "list", "--database-url", database_url)
        assert result.exit_code == 0, result.stderr
        return result.stdout

    before = listed()
    for args, expected in BAD_INPUT:
        result = invoke("webhooks", *args, "--database-url", database_url)
        assert one_line_error(result) == expected, args
    assert listed() == before


def test_an_unknown_type_is_a_usage_error(invoke: Invoke, database_url: str) -> None:
    result = invoke(
        "webhooks", "create", "--url", URL, "--type", "message.exploded", "--database-url",
        database_url,
    )  # fmt: skip
    assert result.exit_code == 2
    assert "Invalid value for '--type': 'message.exploded' is not one of" in result.stderr
    assert ok(invoke("webhooks", "list", "--database-url", database_url)) == []
