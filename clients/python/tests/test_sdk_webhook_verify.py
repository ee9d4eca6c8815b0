"""webhooks.verify against requests signed by the Standard Webhooks reference library (no
server: the real deliveries are in test_sdk_webhooks.py)."""

import base64
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import threads_api_client
from standardwebhooks import Webhook as Signer
from threads_api_client import Event, ThreadsClient, WebhookVerificationError, webhooks

SECRET = "whsec_" + base64.b64encode(os.urandom(24)).decode()
OTHER_SECRET = "whsec_" + base64.b64encode(os.urandom(24)).decode()
EVENT = {
    "id": "evt_01M8E3VWVJA14JCX70NQ2YYY8G",
    "object": "event",
    "type": "message.created",
    "space_id": "spc_01M8E3VWRTHZ45TEK83A2HR0NJ",
    "thread_id": "thr_01M8E3VWVJA14JCX70NQ2YYY8G",
    "position": 7,
    "created_at": "2026-11-27T09:02:31.794881Z",
    "data": {"id": "msg_01M8E3VWVJA14JCX70NQ2YYY8G", "seq": 2, "content": "héllo"},
}
BODY = json.dumps(EVENT, ensure_ascii=False).encode()


def _signed(
    body: bytes = BODY,
    *,
    secrets: tuple[str, ...] = (SECRET,),
    at: datetime | None = None,
    message_id: str = "evt_01M8E3VWVJA14JCX70NQ2YYY8G",
) -> dict[str, str]:
    when = at or datetime.now(UTC)
    signatures = [Signer(s).sign(message_id, when, body.decode()) for s in secrets]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": " ".join(signatures),
    }


def test_a_signed_request_gives_its_event() -> None:
    event = webhooks.verify(BODY, _signed(), SECRET)
    assert isinstance(event, Event)
    assert (event.type, event.position, event.data["content"]) == ("message.created", 7, "héllo")


def test_it_is_the_same_function_on_the_clients_and_the_package() -> None:
    client = ThreadsClient(base_url="http://127.0.0.1:9", api_key="tk_unused")
    assert client.webhooks.verify is threads_api_client.webhooks.verify
    assert client.webhooks.verify(BODY.decode(), _signed(), SECRET).id == EVENT["id"]


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(lambda h: {k.upper(): v for k, v in h.items()}, id="upper-case names"),
        pytest.param(lambda h: httpx.Headers(h), id="httpx.Headers"),
    ],
)
def test_header_names_are_matched_in_any_case(headers: object) -> None:
    assert webhooks.verify(BODY, headers(_signed()), SECRET).position == 7  # type: ignore[operator]


def test_during_a_rotation_either_secret_verifies() -> None:
    both = _signed(secrets=(OTHER_SECRET, SECRET))
    assert webhooks.verify(BODY, both, SECRET).position == 7
    assert webhooks.verify(BODY, both, OTHER_SECRET).position == 7


def test_other_versions_and_malformed_entries_are_skipped() -> None:
    headers = _signed()
    headers["webhook-signature"] = f"v2,AAAA v1,not-base64! v1 {headers['webhook-signature']}"
    assert webhooks.verify(BODY, headers, SECRET).position == 7


def test_a_secret_without_its_prefix_or_padding_still_verifies() -> None:
    secret = "whsec_" + base64.b64encode(os.urandom(20)).decode()  # 20 bytes: padded
    assert secret.endswith("=")
    bare = secret.removeprefix("whsec_").rstrip("=")
    assert webhooks.verify(BODY, _signed(secrets=(secret,)), bare).position == 7


# Headers are signed when each test runs, not when the module is collected: a suite that
# takes longer than the 5 minutes of tolerance would see them as replays.
@pytest.mark.parametrize(
    ("body", "headers", "message"),
    [
        (BODY, lambda: _signed(secrets=(OTHER_SECRET,)), "No signature matches"),
        (BODY.replace(b'"seq": 2', b'"seq": 3'), _signed, "No signature matches"),
        (json.dumps(EVENT).encode(), _signed, "No signature matches"),  # re-serialised
        (BODY, lambda: {**_signed(), "webhook-id": "evt_other"}, "No signature matches"),
        (BODY, lambda: {**_signed(), "webhook-signature": ""}, "no webhook-signature header"),
        (BODY, lambda: {"content-type": "application/json"}, "no webhook-id, webhook-timestamp"),
        (BODY, lambda: {**_signed(), "webhook-timestamp": "1e9"}, "not a Unix time"),
    ],
    ids=["other secret", "changed body", "re-serialised", "other id", "empty", "none", "ts"],
)
def test_what_was_not_signed_so_is_refused(
    body: bytes, headers: Callable[[], dict[str, str]], message: str
) -> None:
    with pytest.raises(WebhookVerificationError, match=message):
        webhooks.verify(body, headers(), SECRET)


@pytest.mark.parametrize(
    ("shift", "message"),
    [(timedelta(minutes=-6), "signed 3[0-9]{2} s ago"), (timedelta(minutes=6), "in the future")],
)
def test_a_timestamp_more_than_five_minutes_away_is_refused(shift: timedelta, message: str) -> None:
    headers = _signed(at=datetime.now(UTC) + shift)
    with pytest.raises(WebhookVerificationError, match=message):
        webhooks.verify(BODY, headers, SECRET)
    assert webhooks.verify(BODY, headers, SECRET, tolerance=420).position == 7
    near = _signed(at=datetime.now(UTC) + shift * 0.7)
    assert webhooks.verify(BODY, near, SECRET).position == 7


def test_a_signed_body_that_is_not_an_event_is_refused() -> None:
    body = b'{"hello": "world"}'
    with pytest.raises(WebhookVerificationError, match="not an event"):
        webhooks.verify(body, _signed(body), SECRET)


@pytest.mark.parametrize("secret", ["", "whsec_", "whsec_!!!", None])
def test_a_secret_that_is_not_one_is_a_programming_error(secret: str) -> None:
    with pytest.raises(ValueError, match="not a webhook signing secret"):
        webhooks.verify(BODY, _signed(), secret)
