"""The request load the webhook dispatcher yields to (kit/load.py): busy when requests were
in flight nearly all of the last 100 ms or more; streams and long-polls that wait do not
count."""

from typing import Any

from threads_api.kit.load import RequestLoad


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_requests_in_flight_all_along_make_it_busy_until_they_stop() -> None:
    clock = Clock()
    load = RequestLoad(clock)
    one: dict[str, Any] = {}
    load.started(one)
    clock.now += 0.2
    assert load.busy()
    clock.now += 0.05
    assert load.busy()  # too short to judge: the last verdict holds
    load.finished(one)
    clock.now += 0.2
    assert not load.busy()


def test_requests_in_flight_half_of_the_time_are_not_busy() -> None:
    clock = Clock()
    load = RequestLoad(clock)
    for _ in range(10):
        request: dict[str, Any] = {}
        load.started(request)
        clock.now += 0.01
        load.finished(request)
        clock.now += 0.01
    assert not load.busy()


def test_a_waiting_stream_is_not_work_and_leaves_the_count_once() -> None:
    clock = Clock()
    load = RequestLoad(clock)
    stream: dict[str, Any] = {}
    load.started(stream)
    clock.now += 0.01
    load.waiting(stream)
    clock.now += 0.3
    assert not load.busy()
    load.finished(stream)  # the stream ends: already out of the count
    request: dict[str, Any] = {}
    load.started(request)
    clock.now += 0.2
    assert load.busy()  # the count did not go below zero
