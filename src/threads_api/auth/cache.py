"""Recently authenticated keys, so that a busy key costs one database lookup a second.

Revocation takes effect at once in the process that revokes (the key id is marked and never
served from the cache again) and within 100 ms in every other process: the revocation
watcher (`auth/watcher.py`) clears the cache when it sees a revocation, and the cache serves
nothing unless the watcher's last successful check began less than `trust_seconds` ago. A
lagging watcher or a slow database costs speed (lookups go to the database), never the
bound (ADR 0005).

A lookup in flight is shared: the requests that miss while it runs wait for it rather than
read the key again (see `lookup_in_flight`).
"""

import asyncio
import functools
import time

from threads_api.auth.principal import Principal

DEFAULT_TTL_SECONDS = 1.0
# The contract's 100 ms, less a margin for the time between a request's start and its lookup.
DEFAULT_TRUST_SECONDS = 0.075
_MAX_ENTRIES = 10_000


class PrincipalCache:
    def __init__(
        self,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        trust_seconds: float = DEFAULT_TRUST_SECONDS,
    ) -> None:
        self._ttl = ttl_seconds
        self._trust = trust_seconds
        self._entries: dict[str, tuple[float, Principal]] = {}
        self._revoked: set[str] = set()
        # Bumped by every clear(): a lookup that began before a clear must not fill the
        # cache after it with what it read before the revocation.
        self.epoch = 0
        self._trusted_until = float("-inf")  # nothing is served before the first check
        # Lookups in flight, by secret hash, each with the `time.monotonic()` it began at.
        self._lookups: dict[str, tuple[float, asyncio.Future[Principal]]] = {}

    def get(self, secret_hash: str) -> Principal | None:
        now = time.monotonic()
        if now >= self._trusted_until:
            return None
        entry = self._entries.get(secret_hash)
        if entry is None:
            return None
        expires_at, principal = entry
        if expires_at < now or principal.key_id in self._revoked:
            del self._entries[secret_hash]
            return None
        return principal

    def put(self, secret_hash: str, principal: Principal, epoch: int) -> None:
        """Remember a lookup that began when `epoch` was current."""
        if epoch != self.epoch:
            return
        if len(self._entries) >= _MAX_ENTRIES:
            self._entries.clear()  # crude, but bounded; a miss costs one lookup
        self._entries[secret_hash] = (time.monotonic() + self._ttl, principal)

    def revoke(self, key_id: str) -> None:
        # A lookup that read the key just before its revocation committed may still put it
        # here afterwards: the mark keeps such an entry from ever being served.
        self._revoked.add(key_id)
        self._lookups.clear()

    def is_revoked(self, key_id: str) -> bool:
        """Revoked in this process: what a shared lookup read may predate it."""
        return key_id in self._revoked

    def clear(self) -> None:
        """Forget every entry: some key was revoked, here or in another process."""
        self._entries.clear()
        self._lookups.clear()
        self.epoch += 1

    def lookup_in_flight(self, secret_hash: str) -> "asyncio.Future[Principal] | None":
        """The lookup of `secret_hash` to wait for instead of reading the key again: one
        begun less than `trust_seconds` ago and since no clear or revocation, so that what
        it reads is no staler than what the cache may serve. When a busy key's entry expires,
        every request in flight misses at once; each reading it again queued them behind one
        another (32 ORM lookups, up to 170 ms, once a second at 32 connections on SQLite)."""
        found = self._lookups.get(secret_hash)
        if found is None:
            return None
        began, lookup = found
        if lookup.done() or time.monotonic() - began >= self._trust:
            return None
        return lookup

    def lookup_started(self, secret_hash: str, lookup: "asyncio.Future[Principal]") -> None:
        self._lookups[secret_hash] = (time.monotonic(), lookup)
        lookup.add_done_callback(functools.partial(self._lookup_ended, secret_hash))

    def _lookup_ended(self, secret_hash: str, lookup: "asyncio.Future[Principal]") -> None:
        found = self._lookups.get(secret_hash)
        if found is not None and found[1] is lookup:
            del self._lookups[secret_hash]
        if not lookup.cancelled():
            lookup.exception()  # retrieved, even when every request that waited is gone

    def trust_from(self, checked_at: float) -> None:
        """Serve entries until `trust_seconds` after `checked_at`, the `time.monotonic()` at
        which a check that found no revocation unseen (or cleared the cache) began."""
        self._trusted_until = max(self._trusted_until, checked_at + self._trust)
