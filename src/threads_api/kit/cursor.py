"""Opaque, tamper-evident keyset cursors.

A cursor is `base64url(json(position)) "." base64url(hmac)`. The HMAC covers the position
and a *binding*: the list it came from (e.g. the thread id) and every query parameter that
shapes the list except `limit` and `cursor`. A cursor that was altered, forged, or replayed
against another list or other parameters fails the check and is a 400.
"""

import base64
import binascii
import json
from typing import Any

from threads_api.errors import InvalidCursor
from threads_api.kit.crypto import sign, signatures_match

_SIGNATURE_BYTES = 16  # 128 bits is ample against forgery and keeps cursors short.
_MAX_CURSOR_LENGTH = 512


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CursorCodec:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _signature(self, binding: str, payload: str) -> bytes:
        return sign(self._secret, f"{binding}\n{payload}".encode())[:_SIGNATURE_BYTES]

    def encode(self, binding: str, position: list[Any]) -> str:
        payload = _b64encode(json.dumps(position, separators=(",", ":")).encode())
        return f"{payload}.{_b64encode(self._signature(binding, payload))}"

    def decode(self, binding: str, cursor: str) -> list[Any]:
        """The position a cursor points after; `InvalidCursor` unless it was made for `binding`."""
        if len(cursor) > _MAX_CURSOR_LENGTH or cursor.count(".") != 1:
            raise InvalidCursor("The cursor is malformed.")
        payload, signature = cursor.split(".")
        try:
            given = _b64decode(signature)
        except (binascii.Error, ValueError):
            raise InvalidCursor("The cursor is malformed.") from None
        if not signatures_match(self._signature(binding, payload), given):
            raise InvalidCursor(
                "The cursor was altered, or belongs to another list or other query parameters."
            )
        try:
            position = json.loads(_b64decode(payload))
        except (binascii.Error, ValueError):
            raise InvalidCursor("The cursor is malformed.") from None
        if not isinstance(position, list):
            raise InvalidCursor("The cursor is malformed.")
        return position
