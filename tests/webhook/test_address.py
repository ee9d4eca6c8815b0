"""Where a webhook may be sent (contract §15): every non-public address form is refused,
however it is spelled, and a refused URL is never connected to."""

import asyncio
import ipaddress
from typing import Any

import httpx
import pytest

from tests.helpers import Api
from tests.webhook.receiver import Receiver
from threads_api.webhook.address import RefusedAddress, Target, check_url, refusal, resolve

REFUSED = [
    "127.0.0.1",
    "127.255.255.254",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # CGNAT
    "100.127.255.254",
    "0.0.0.0",
    "0.1.2.3",
    "224.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "ff02::1",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:10.0.0.1",
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b:1::a00:1",  # local-use NAT64
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
]
ALLOWED = ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "64:ff9b::5db8:d822"]


@pytest.mark.parametrize("address", REFUSED)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "localhost",
        "2130706433",  # 127.0.0.1 as one decimal number
        "0x7f.1",
        "017700000001",  # octal
    ],
)
async def test_every_spelling_of_a_private_host_is_refused_when_resolved(host: str) -> None:
    with pytest.raises(RefusedAddress, match="not a public address"):
        await resolve(Target.of(f"http://{host}:8080/hook"), allow_private=False)


async def test_allowing_private_addresses_lets_loopback_through() -> None:
    found = await resolve(Target.of("http://127.0.0.1:9/"), allow_private=True)
    assert [str(a) for a in found] == ["127.0.0.1"]


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/",
        "https:///nohost",
        "https://user:pass@example.com/",
        "https://example.com/#fragment",
        "https://exa mple.com/",
        "https://example.com:99999/",
        "https://example.com:0/",
        "https://exämple.com/",
        "javascript:alert(1)",
    ],
)
def test_urls_that_cannot_be_webhooks(url: str) -> None:
    with pytest.raises(ValueError):
        check_url(url)


def test_a_target_keeps_path_query_port_and_host_for_the_request() -> None:
    target = Target.of("https://Example.com:8443/a/b?x=1")
    assert (target.https, target.port, target.path) == (True, 8443, "/a/b?x=1")
    assert target.host_header == "example.com:8443"
    assert Target.of("http://[::1]/").host_header == "[::1]"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"webhooks_allow_private": False, "webhook_timeout_seconds": 2}


async def test_a_private_receiver_gets_nothing_and_the_log_says_why(
    client: httpx.AsyncClient, api: Api, receiver: Receiver
) -> None:
    created = await client.post("/v1/webhooks", json={"url": receiver.url})
    assert created.status_code == 201  # a literal address is vetted when sending, as names are
    hook = created.json()
    space = await api.space()
    await api.thread(space["id"])
    for _ in range(200):
        log = (await client.get(f"/v1/webhooks/{hook['id']}/deliveries")).json()["data"]
        if log:
            break
        await asyncio.sleep(0.02)
    assert log[0]["status_code"] is None
    assert "is not a public address" in log[0]["error"]
    assert "THREADS_API_WEBHOOKS_ALLOW_PRIVATE" in log[0]["error"]
    assert receiver.requests == []
