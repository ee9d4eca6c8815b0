"""Secrets: API key generation and hashing, HMAC signatures."""

import hashlib
import hmac
import secrets

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
