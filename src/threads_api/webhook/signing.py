"""Standard Webhooks signatures (https://www.standardwebhooks.com): what a receiver checks
with any of its libraries.

The signed content is `{webhook-id}.{webhook-timestamp}.{body}`, the signature an
HMAC-SHA256 under the secret's bytes (the base64 after `whsec_`), sent as `v1,<base64>`; one
per live secret, space-separated, so a receiver holding either side of a rotation accepts.
"""

import base64
import secrets
from collections.abc import Sequence

from threads_api.kit.crypto import sign

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """24 random bytes, base64, with the prefix the Standard Webhooks libraries strip."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def signature_header(secrets_: Sequence[str], message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(sign(_key(secret), signed)).decode() for secret in secrets_
    )


def headers(
    secrets_: Sequence[str], message_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(secrets_, message_id, timestamp, body),
    }


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))
