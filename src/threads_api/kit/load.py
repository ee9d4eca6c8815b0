"""Whether requests keep this process busy, for background work that yields to them.

Busy: over the last interval, requests were being served nearly all of the time — the
share of time with at least one in flight. Not CPU: the background work's own CPU would
count, and a dispatcher making many small rounds at a moderate load would find the process
busy and hold itself back. Streams and long-polls leave the count when they start waiting
(`waiting`): an open stream is not work.
"""

import time
from collections.abc import Callable, MutableMapping
from typing import Any

BUSY_SHARE = 0.9
# Shorter intervals say little (one request's work): the last verdict holds.
MIN_INTERVAL_SECONDS = 0.1
_COUNTED = "load_counted"  # in a request's scope state: it is in the count


class RequestLoad:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._in_flight = 0
        self._occupied = 0.0  # seconds with a request in flight, up to `_changed`
        self._changed = clock()
        self._seen = (self._changed, 0.0)  # when busy() last judged, and `_occupied` then
        self._busy = False

    def started(self, state: MutableMapping[str, Any]) -> None:
        self._move(+1)
        state[_COUNTED] = True

    def finished(self, state: MutableMapping[str, Any]) -> None:
        """The request has ended, or (`waiting`) no longer works."""
        if state.pop(_COUNTED, False):
            self._move(-1)

    waiting = finished

    def busy(self) -> bool:
        now = self._clock()
        seen, occupied_then = self._seen
        if now - seen >= MIN_INTERVAL_SECONDS:
            self._move(0)
            self._busy = (self._occupied - occupied_then) / (now - seen) >= BUSY_SHARE
            self._seen = (now, self._occupied)
        return self._busy

    def _move(self, by: int) -> None:
        now = self._clock()
        if self._in_flight:
            self._occupied += now - self._changed
        self._changed = now
        self._in_flight += by


request_load = RequestLoad()
