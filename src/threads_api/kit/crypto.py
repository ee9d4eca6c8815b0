"""Secrets: API key generation and hashing, HMAC signatures, sealed secrets."""

import base64
import hashlib
import hmac
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

API_KEY_PREFIX = "tk_"
DISPLAY_PREFIX_LENGTH = 8


def new_api_key_secret() -> str:
    """A 256-bit random secret with a recognisable prefix (`tk_…`)."""
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """SHA-256 suffices: the secrets are random and long, so there is nothing to brute-force."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def display_prefix(secret: str) -> str:
    return secret[:DISPLAY_PREFIX_LENGTH]


def sign(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def signatures_match(expected: bytes, given: bytes) -> bool:
    return hmac.compare_digest(expected, given)


class SecretBox:
    """Authenticated encryption (AES-256-GCM) of secrets the server must read back, such as
    webhook signing secrets, which cannot be stored hashed-only."""

    _VERSION = "v1:"

    def __init__(self, key_material: bytes, purpose: str) -> None:
        # One key per purpose, so no two uses of the same material share a key.
        self._aead = AESGCM(hashlib.sha256(purpose.encode() + b"\0" + key_material).digest())

    def seal(self, plaintext: str) -> str:
        nonce = secrets.token_bytes(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), None)
        return self._VERSION + base64.b64encode(nonce + sealed).decode()

    def open(self, sealed: str) -> str:
        """The plaintext; raises ValueError if `sealed` was not made with this key."""
        if not sealed.startswith(self._VERSION):
            raise ValueError("unknown secret format")
        raw = base64.b64decode(sealed[len(self._VERSION) :])
        try:
            return self._aead.decrypt(raw[:12], raw[12:], None).decode()
        except InvalidTag:
            raise ValueError("the secret was sealed with another key") from None
