"""Time as the step sees it: a monotonic clock, a sleep, and the whole-step deadline."""

from __future__ import annotations

import time
from typing import Protocol

from ci_step.errors import DeadlineExceeded


class Clock(Protocol):
    def now(self) -> float:
        """Monotonic seconds: what every wait and the deadline are measured in."""
        ...

    def wall(self) -> float:
        """Unix time: only for dates a server sends (an HTTP-date Retry-After)."""
        ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class Deadline:
    """One deadline for everything the step does after it starts."""

    def __init__(self, clock: Clock, seconds: float) -> None:
        self.clock = clock
        self.seconds = seconds
        self.started = clock.now()

    def elapsed(self) -> float:
        return self.clock.now() - self.started

    def remaining(self) -> float:
        return self.seconds - self.elapsed()

    def check(self, doing: str) -> float:
        """Remaining seconds; DeadlineExceeded when none are left."""
        left = self.remaining()
        if left <= 0:
            raise self.passed(doing)
        return left

    def passed(self, doing: str) -> DeadlineExceeded:
        """The error that says the deadline passed while ``doing``."""
        return DeadlineExceeded(f"The timeout of {self.seconds:g}s passed while {doing}.")

    def sleep(self, seconds: float, doing: str) -> None:
        """Sleep, but never past the deadline (and say so when it is reached)."""
        left = self.check(doing)
        self.clock.sleep(min(seconds, left))
