"""The request load the webhook dispatcher yields to (kit/load.py): busy only when most of a
CPU went by while requests were served, judged over intervals of 100 ms or more."""

from threads_api.kit.load import RequestLoad


class Clocks:
    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def spend(self, wall: float, cpu: float) -> None:
        self.wall += wall
        self.cpu += cpu


def load_on(clocks: Clocks) -> RequestLoad:
    return RequestLoad(lambda: clocks.wall, lambda: clocks.cpu)


def test_requests_that_take_most_of_a_cpu_make_it_busy_until_they_stop() -> None:
    clocks = Clocks()
    load = load_on(clocks)
    clocks.spend(wall=0.2, cpu=0.19)
    load.served += 300
    assert load.busy()
    clocks.spend(wall=0.05, cpu=0.0)
    assert load.busy()  # too short to judge: the last verdict holds
    clocks.spend(wall=0.2, cpu=0.02)
    load.served += 2
    assert not load.busy()


def test_a_full_cpu_without_requests_is_not_busy() -> None:
    clocks = Clocks()
    load = load_on(clocks)
    clocks.spend(wall=0.2, cpu=0.2)  # the dispatcher draining a backlog, say
    assert not load.busy()


def test_requests_that_leave_the_cpu_half_idle_are_not_busy() -> None:
    clocks = Clocks()
    load = load_on(clocks)
    clocks.spend(wall=0.2, cpu=0.1)
    load.served += 100
    assert not load.busy()
