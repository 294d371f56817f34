"""A line now and then during a long wait, so the log is never silent for long.

A wait logs what changes (a new build status, a phase that ends); between changes the
heartbeat says what is being waited for, its last status, how long it has waited and when
the next check is. It speaks at fixed marks of the wait's own time: every minute for the
first ten minutes, then every five (1m, 2m, ... 10m, 15m, 20m, ...), at the first check
after each mark. A mark at whose check a change was logged already passes in silence.
"""

from __future__ import annotations

from ci_step.clock import Clock
from ci_step.log import Log
from ci_step.units import Seconds

EARLY = 60.0  # seconds between lines in the first ten minutes
EARLY_UNTIL = 600.0
LATE = 300.0  # seconds between lines after that


def next_mark(elapsed: float) -> float:
    """The first mark after ``elapsed`` seconds of waiting."""
    step = EARLY if elapsed < EARLY_UNTIL else LATE
    return (elapsed // step + 1) * step


class Heartbeat:
    """The heartbeat of one wait, on the injected clock; ``beat`` after every check."""

    def __init__(self, clock: Clock, log: Log, waiting_for: str) -> None:
        self.clock = clock
        self.log = log
        self.waiting_for = waiting_for
        self.started = clock.now()
        self.mark = EARLY

    def beat(self, status: str, next_check: float, *, reported: bool = False) -> None:
        """After a check that found ``status``, before waiting ``next_check`` seconds for
        the next one; ``reported`` when the caller has just logged a line about it."""
        waited = self.clock.now() - self.started
        if waited < self.mark:
            return
        self.mark = next_mark(waited)
        if reported:
            return
        self.log.info(
            f"Still waiting for {self.waiting_for}",
            status=status,
            waited=Seconds(waited),
            next_check_in=Seconds(next_check),
        )
