"""Recently authenticated keys, so that a busy key costs one database lookup a second.

Revocation still takes effect at once in the process that revokes (the key id is marked and
never served from the cache again) and within `ttl_seconds` in every other process.
"""

import time

from threads_api.auth.principal import Principal

DEFAULT_TTL_SECONDS = 1.0
_MAX_ENTRIES = 10_000


class PrincipalCache:
    def __init__(self, ttl_seconds: float = DEFAULT_TTL_SECONDS) -> None:
        self._ttl = ttl_seconds
        self._entries: dict[str, tuple[float, Principal]] = {}
        self._revoked: set[str] = set()

    def get(self, secret_hash: str) -> Principal | None:
        entry = self._entries.get(secret_hash)
        if entry is None:
            return None
        expires_at, principal = entry
        if expires_at < time.monotonic() or principal.key_id in self._revoked:
            del self._entries[secret_hash]
            return None
        return principal

    def put(self, secret_hash: str, principal: Principal) -> None:
        if len(self._entries) >= _MAX_ENTRIES:
            self._entries.clear()  # crude, but bounded; a miss costs one lookup
        self._entries[secret_hash] = (time.monotonic() + self._ttl, principal)

    def revoke(self, key_id: str) -> None:
        # A lookup that read the key just before its revocation committed may still put it
        # here afterwards: the mark keeps such an entry from ever being served.
        self._revoked.add(key_id)
