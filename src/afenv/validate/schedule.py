"""Which validation phases run when: each phase starts once the phases it needs have finished,
at most ``lanes`` at a time (``ClusterOptions.lanes``), in the order given.

Phases spend much of their time waiting on one process in one container (a kernel importing
ROOT, a single-threaded generator, a Dask client): one after the other, `afenv validate cms`
left 45 of its 200 core-seconds idle on two cores (2026-12-03). Two lanes fill that time
without changing what any phase checks.
The result does not depend on the order phases finish in: outcomes come back in the order the
phases were given. A phase whose outcome says ``proceed=False`` (no worker registered) stops
every phase not yet started; the ones running finish.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

__all__ = ["Finished", "Scheduled", "check_needs", "run_scheduled"]


class Scheduled(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def needs(self) -> tuple[str, ...]: ...


class _HasProceed(Protocol):
    @property
    def proceed(self) -> bool: ...


P = TypeVar("P", bound=Scheduled)
R = TypeVar("R", bound=_HasProceed)


@dataclass(frozen=True)
class Finished(Generic[P, R]):
    phase: P
    outcome: R
    seconds: float
    started: float  # seconds after the first phase started: shows what overlapped


def check_needs(phases: Sequence[Scheduled]) -> None:
    """Every need names an earlier phase (so the order given is one the phases can run in)."""
    seen: set[str] = set()
    for phase in phases:
        unknown = [need for need in phase.needs if need not in seen]
        if unknown:
            raise ValueError(f"phase {phase.name!r} needs {unknown}, not an earlier phase")
        if phase.name in seen:
            raise ValueError(f"phase {phase.name!r} is listed twice")
        seen.add(phase.name)


def run_scheduled(
    phases: Sequence[P], run: Callable[[P], R], *, lanes: int
) -> list[Finished[P, R]]:
    """Run ``run(phase)`` for every phase as its needs allow; the finished ones, in given order.

    An exception in a phase (or an interrupt) is raised here at once; phases not yet started
    never start.
    """
    check_needs(phases)
    if lanes < 1:
        raise ValueError("lanes must be at least 1")
    origin = time.monotonic()
    finished: dict[str, Finished[P, R]] = {}
    waiting = list(phases)
    running: dict[Future[R], tuple[P, float]] = {}
    stop = False

    pool = ThreadPoolExecutor(max_workers=lanes, thread_name_prefix="afenv-phase")
    try:
        while running or (waiting and not stop):
            for phase in list(waiting):
                if stop or len(running) >= lanes:
                    break
                if all(need in finished for need in phase.needs):
                    waiting.remove(phase)
                    running[pool.submit(run, phase)] = (phase, time.monotonic())
            # check_needs guarantees something runs here: the first waiting phase's needs are
            # earlier phases, all finished once nothing runs and nothing stopped the run.
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                phase, started = running.pop(future)
                outcome = future.result()  # a phase's exception is raised here
                finished[phase.name] = Finished(
                    phase=phase,
                    outcome=outcome,
                    seconds=round(time.monotonic() - started, 2),
                    started=round(started - origin, 2),
                )
                if not outcome.proceed:
                    stop = True
    except BaseException:
        # A phase failed, or Ctrl-C / SIGTERM reached this (main) thread: start nothing more and
        # do not wait for the phases still running. The caller removes the cluster next, which
        # ends their commands in its containers; the interpreter joins their threads at exit.
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return [finished[phase.name] for phase in phases if phase.name in finished]
