"""One way to wait before trying again: a Backoff policy, and Tries, the loop state of
every caller that retries (API calls, download stalls, the build's start, the start job,
a transport the platform is still processing). Each caller chooses only its limits."""

from __future__ import annotations

import random
from dataclasses import dataclass

from ci_step.clock import Deadline


@dataclass(frozen=True)
class Backoff:
    """How long to wait after a failure, and how many failures in a row to accept."""

    first: float = 1.0  # the ceiling of the first wait; it doubles with each failure
    cap: float = 30.0  # no wait is longer (unless the server asks for one)
    jitter: bool = True  # full jitter: a random wait up to the ceiling; else the ceiling
    tries: int | None = None  # failures in a row that end the loop; None: the deadline does
    at_least: float = 0.0  # a wait the server names is raised to this (no tight loops)

    def delay(self, failures: int, rng: random.Random, asked: float | None = None) -> float:
        """Seconds to wait after the ``failures``-th failure; ``asked``: the server's wait."""
        if asked is not None:
            return max(asked, self.at_least)
        ceiling = min(self.cap, self.first * 2 ** (max(failures, 1) - 1))
        return rng.uniform(0, ceiling) if self.jitter else ceiling


class Tries:
    """One retry loop under a Backoff and the step's deadline."""

    def __init__(
        self, policy: Backoff, deadline: Deadline, rng: random.Random | None = None
    ) -> None:
        self.policy = policy
        self.deadline = deadline
        self.rng = rng or random.Random()
        self.failures = 0  # in a row; a wait the server named does not count

    def failed(self, asked: float | None = None) -> float | None:
        """After a failed try: the seconds to wait before the next one, or None when the
        policy's tries have run out. ``asked``: the wait the server named (Retry-After)."""
        if asked is None:
            self.failures += 1
            if self.policy.tries is not None and self.failures >= self.policy.tries:
                return None
        return self.policy.delay(self.failures, self.rng, asked)

    def fits(self, wait: float) -> bool:
        """Does a try still fit in the deadline after waiting ``wait`` seconds?"""
        return wait < self.deadline.remaining()

    def progressed(self) -> None:
        """A try that moved forward: counting failures in a row starts over."""
        self.failures = 0

    def sleep(self, wait: float, doing: str) -> None:
        self.deadline.sleep(wait, doing)
