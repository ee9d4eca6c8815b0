"""Whether requests keep this process busy, for background work that yields to them."""

import time
from collections.abc import Callable

# Busy: this share of a CPU or more was used over the last interval, while requests were
# being served. The webhook dispatcher draining a backlog alone is not busy.
BUSY_CPU_SHARE = 0.8
# Shorter intervals say little (one request's work, one round's): the last verdict holds.
MIN_INTERVAL_SECONDS = 0.1


class RequestLoad:
    def __init__(
        self,
        wall_clock: Callable[[], float] = time.monotonic,
        cpu_clock: Callable[[], float] = time.process_time,
    ) -> None:
        self.served = 0  # requests finished in this process; the request middleware counts
        self._wall_clock, self._cpu_clock = wall_clock, cpu_clock
        self._seen = (wall_clock(), cpu_clock(), 0)
        self._busy = False

    def busy(self) -> bool:
        wall, cpu = self._wall_clock(), self._cpu_clock()
        seen_wall, seen_cpu, seen_served = self._seen
        if wall - seen_wall >= MIN_INTERVAL_SECONDS:
            share = (cpu - seen_cpu) / (wall - seen_wall)
            self._busy = share >= BUSY_CPU_SHARE and self.served > seen_served
            self._seen = (wall, cpu, self.served)
        return self._busy


request_load = RequestLoad()
