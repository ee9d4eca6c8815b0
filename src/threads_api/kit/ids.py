"""Prefixed, time-ordered ids: `thr_` + 26 Crockford base32 characters (a ULID body).

48 bits of milliseconds then 80 random bits, so ids sort by creation time and an index on
them stays append-mostly. Within one millisecond of one process the random part is
incremented, which keeps the ids of that process strictly increasing.
"""

import re
import secrets
import threading
import time
from datetime import datetime
from typing import Literal, get_args

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_BODY = "[0-9A-HJKMNP-TV-Z]{26}"  # 26 characters of ALPHABET
# spaces, threads, messages, API keys, events, webhooks, webhook deliveries
Prefix = Literal["spc", "thr", "msg", "key", "evt", "whk", "dlv"]
PREFIXES: tuple[Prefix, ...] = get_args(Prefix)

_lock = threading.Lock()
_last_ms = 0
_last_random = 0


def _encode(value: int) -> str:
    chars = []
    for _ in range(26):
        chars.append(ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_id(prefix: Prefix) -> str:
    global _last_ms, _last_random
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            ms, random_part = _last_ms, (_last_random + 1) & ((1 << 80) - 1)
        else:
            random_part = secrets.randbits(80)
        _last_ms, _last_random = ms, random_part
    return f"{prefix}_{_encode((ms << 80) | random_part)}"


def first_id_at(prefix: Prefix, when: datetime) -> str:
    """The least id of that kind made at `when` or later: ids made before it sort below."""
    ms = int(when.timestamp() * 1000)
    return f"{prefix}_{_encode(ms << 80)}"


def id_pattern(prefix: Prefix) -> str:
    """The ids of one kind as a JSON Schema `pattern`, for the OpenAPI document."""
    return f"^{prefix}_{_BODY}$"


SPACE_ID_PATTERN = id_pattern("spc")

_ID_PATTERNS = {prefix: re.compile(f"{prefix}_{_BODY}") for prefix in PREFIXES}


def is_valid_id(prefix: Prefix, value: str) -> bool:
    """True when `value` looks like an id of that kind; checked before any database call."""
    return _ID_PATTERNS[prefix].fullmatch(value) is not None
