"""The validation phase scheduler: needs, lanes, order of outcomes, stopping (real threads)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from afenv.validate.run import PHASES
from afenv.validate.schedule import check_needs, run_scheduled

WAIT = 10.0  # seconds an event may take before a test calls it a deadlock


@dataclass(frozen=True)
class Result:
    name: str
    proceed: bool = True


@dataclass
class Step:
    name: str
    needs: tuple[str, ...] = ()
    body: Callable[[], bool] = lambda: True  # returns proceed


def runner(log: list[str]) -> Callable[[Step], Result]:
    lock = threading.Lock()

    def run(step: Step) -> Result:
        with lock:
            log.append(f"start {step.name}")
        proceed = step.body()
        with lock:
            log.append(f"end {step.name}")
        return Result(step.name, proceed)

    return run


def test_independent_phases_overlap_in_two_lanes() -> None:
    b_started = threading.Event()
    a = Step("a", body=lambda: b_started.wait(WAIT))
    b = Step("b", body=lambda: b_started.set() or True)
    done = run_scheduled([a, b], runner([]), lanes=2)
    # a returns proceed=True only if b ran while a was still running.
    assert [d.outcome for d in done] == [Result("a", True), Result("b", True)]


@pytest.mark.parametrize("lanes", [1, 2])
def test_never_more_phases_at_once_than_lanes(lanes: int) -> None:
    lock, now, most = threading.Lock(), [0], [0]
    someone_else = threading.Event()

    def body() -> bool:
        with lock:
            now[0] += 1
            most[0] = max(most[0], now[0])
            if now[0] > 1:
                someone_else.set()
        # Give another phase the chance to start beside this one (a bound, not a sync point:
        # with one lane nothing can ever set the event).
        someone_else.wait(0.2)
        with lock:
            now[0] -= 1
        return True

    run_scheduled([Step(n, body=body) for n in "abcd"], runner([]), lanes=lanes)
    assert most[0] == lanes


def test_a_phase_starts_only_after_what_it_needs() -> None:
    log: list[str] = []
    release = threading.Event()
    steps = [
        Step("versions"),
        Step("bench", needs=("versions",), body=lambda: release.wait(WAIT)),
        Step("checks", needs=("versions",), body=lambda: release.set() or True),
        Step("notebooks", needs=("bench",)),
    ]
    done = run_scheduled(steps, runner(log), lanes=2)
    assert log.index("start bench") > log.index("end versions")
    assert log.index("start checks") > log.index("end versions")
    assert log.index("start notebooks") > log.index("end bench")
    # Outcomes in the order given, whatever order they finished in.
    assert [d.phase.name for d in done] == ["versions", "bench", "checks", "notebooks"]
    assert all(d.outcome.proceed for d in done)
    assert done[1].started >= done[0].started + done[0].seconds - 0.01


def test_a_later_phase_whose_needs_are_met_fills_a_free_lane() -> None:
    log: list[str] = []
    gate = threading.Event()
    steps = [
        Step("slow", body=lambda: gate.wait(WAIT)),
        Step("after-slow", needs=("slow",)),
        Step("free", body=lambda: gate.set() or True),
    ]
    run_scheduled(steps, runner(log), lanes=2)
    assert log.index("start free") < log.index("end slow")
    assert log.index("start after-slow") > log.index("end slow")


def test_proceed_false_stops_phases_not_yet_started() -> None:
    log: list[str] = []
    steps = [
        Step("versions", body=lambda: False),
        Step("checks", needs=("versions",)),
        Step("tutorials", needs=("versions",)),
    ]
    done = run_scheduled(steps, runner(log), lanes=2)
    assert [d.phase.name for d in done] == ["versions"]
    assert log == ["start versions", "end versions"]


def test_an_error_is_raised_at_once_and_nothing_more_starts() -> None:
    log: list[str] = []
    release = threading.Event()

    def fail() -> bool:
        raise RuntimeError("phase broke")

    steps = [
        Step("long", body=lambda: release.wait(WAIT)),
        Step("broken", body=fail),
        Step("never", needs=("broken",)),
    ]
    try:
        with pytest.raises(RuntimeError, match="phase broke"):
            run_scheduled(steps, runner(log), lanes=2)
        # Raised while "long" still runs: an interrupted validation does not wait for it.
        assert "end long" not in log
    finally:
        release.set()
    assert "start never" not in log


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([Step("a", needs=("b",)), Step("b")], "needs \\['b'\\], not an earlier phase"),
        ([Step("a", needs=("nope",))], "needs \\['nope'\\]"),
        ([Step("a"), Step("a")], "listed twice"),
    ],
)
def test_needs_must_name_earlier_phases(steps: list[Step], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_needs(steps)


def test_lanes_must_be_positive() -> None:
    with pytest.raises(ValueError, match="lanes"):
        run_scheduled([Step("a")], runner([]), lanes=0)


def test_validation_phases_are_in_an_order_they_can_run_in() -> None:
    check_needs(PHASES)
    names = [phase.name for phase in PHASES]
    needs = {phase.name: phase.needs for phase in PHASES}
    # The notebook compares itself with the distributed benchmark's report and reads its sample.
    assert "benchmark" in needs["notebooks"]
    # Everything but registration needs a registered cluster.
    assert all(names[0] in needs[name] or name == names[0] for name in names if name != "notebooks")
