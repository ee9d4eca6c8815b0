"""Receiving webhooks: `verify(payload, headers, secret)` checks that a request is a delivery
of your webhook, as sent, and gives its event. It needs no client (and no API key):

    from threads_api_client import WebhookVerificationError, webhooks

    event = webhooks.verify(raw_body, request_headers, secret)

Deliveries are signed per Standard Webhooks (https://www.standardwebhooks.com):
`webhook-signature` holds `v1,<base64 HMAC-SHA256>` entries, space-separated (one per live
secret: during a rotation, the old and the new), of `{webhook-id}.{webhook-timestamp}.{body}`
under the bytes of the secret (the base64 after `whsec_`). One matching entry is enough.
"""

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Iterable
from typing import Protocol

import pydantic

from threads_api_client._exceptions import WebhookVerificationError
from threads_api_client._models import Event

__all__ = ["DEFAULT_TOLERANCE_SECONDS", "SECRET_PREFIX", "verify"]

SECRET_PREFIX = "whsec_"
# How far `webhook-timestamp` may be from this machine's clock, either way: an old request
# replayed by someone who captured it is refused.
DEFAULT_TOLERANCE_SECONDS = 300.0


class Headers(Protocol):
    """Any headers object: a dict (any case of names), httpx's, Starlette's, Flask's, or the
    `email.message.Message` of `http.server`."""

    def items(self) -> Iterable[tuple[str, str]]: ...


def verify(
    payload: bytes | str,
    headers: Headers,
    secret: str,
    *,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
) -> Event:
    """The event a webhook request carries, once its signature is checked.

    `payload` is the request's body exactly as received (bytes; a str is encoded as UTF-8):
    JSON parsed and dumped again is not what was signed. `secret` is the webhook's
    (`whsec_…`). Raises WebhookVerificationError when a signature header is missing, no
    signature matches, or `webhook-timestamp` is more than `tolerance` seconds from now;
    ValueError when `secret` is not a webhook secret at all.
    """
    key = _key(secret)
    body = payload.encode() if isinstance(payload, str) else bytes(payload)
    found = {name.lower(): value for name, value in headers.items()}
    message_id = found.get("webhook-id", "")
    timestamp = found.get("webhook-timestamp", "")
    signatures = found.get("webhook-signature", "")
    missing = [
        name
        for name, value in (
            ("webhook-id", message_id),
            ("webhook-timestamp", timestamp),
            ("webhook-signature", signatures),
        )
        if not value
    ]
    if missing:
        raise WebhookVerificationError(
            f"Not a signed webhook request: no {', '.join(missing)} header."
        )
    _check_timestamp(timestamp, tolerance)
    signed = f"{message_id}.{timestamp}.".encode() + body
    expected = hmac.new(key, signed, hashlib.sha256).digest()
    if not any(_matches(entry, expected) for entry in signatures.split()):
        raise WebhookVerificationError(
            "No signature matches: the secret is not this webhook's (or was rotated and "
            "retired), or the body is not the one sent (pass the raw bytes, unparsed)."
        )
    try:
        return Event.model_validate_json(body)
    except pydantic.ValidationError as error:
        raise WebhookVerificationError(
            f"The signature holds, but the body is not an event: {error}"
        ) from error


def _key(secret: str) -> bytes:
    """The HMAC key: the bytes of the base64 after `whsec_` (padding optional)."""
    encoded = secret.removeprefix(SECRET_PREFIX) if isinstance(secret, str) else ""
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if not key:
        raise ValueError(
            "`secret` is not a webhook signing secret: it is `whsec_` and base64, as "
            "webhooks.create and webhooks.rotate_secret answered it."
        )
    return key


def _check_timestamp(timestamp: str, tolerance: float) -> None:
    if not (timestamp.isascii() and timestamp.isdigit()):
        raise WebhookVerificationError(
            f"webhook-timestamp is not a Unix time in seconds: {timestamp[:40]!r}."
        )
    age = time.time() - int(timestamp)
    if age > tolerance:
        raise WebhookVerificationError(
            f"The request was signed {age:.0f} s ago, more than the {tolerance:g} s allowed: "
            "a replay of an old request, or this machine's clock is wrong."
        )
    if age < -tolerance:
        raise WebhookVerificationError(
            f"The request was signed {-age:.0f} s in the future, more than the {tolerance:g} s "
            "allowed: this machine's clock (or the sender's) is wrong."
        )


def _matches(entry: str, expected: bytes) -> bool:
    """Whether one `v1,<base64>` entry is the expected signature (other versions never are);
    compared in constant time."""
    version, _, encoded = entry.partition(",")
    if version != "v1":
        return False
    try:
        given = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(given, expected)
