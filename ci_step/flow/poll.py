"""One wait for something that runs at Mendix or in the app (a build, a pipeline run, a run of
the unit tests): its status read on the polling schedule (ci_step.flow.schedule) until it
ends, a line when the status changes, the heartbeat between changes, and within a deadline.
A read or a wait that meets the deadline ends in the wait's own words (``late``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from ci_step.clock import Deadline
from ci_step.errors import DeadlineExceeded
from ci_step.flow.heartbeat import Heartbeat
from ci_step.flow.schedule import next_wait
from ci_step.log import Log

T = TypeVar("T")


@dataclass(frozen=True)
class Poll(Generic[T]):
    """What one wait reads and how it tells its states apart."""

    read: Callable[[], T]  # the thing's status, read afresh
    words: Callable[[T], str]  # the status in words: a change is logged, the heartbeat says it
    changed: Callable[[T, str], bool]  # after a change: logs it; True when it wrote a line
    ended: Callable[[T], bool]  # nothing more to wait for (may raise on a status not known)


def poll(
    poll: Poll[T],
    deadline: Deadline,
    log: Log,
    waiting_for: str,
    interval: float,
    late: Callable[[str], DeadlineExceeded],
) -> T:
    """Read until ``poll.ended``; the last status read. ``late`` (given the last status in
    words) is raised once ``deadline`` passes; ``interval`` is poll-interval."""
    clock = deadline.clock
    started = clock.now()
    heartbeat = Heartbeat(clock, log, waiting_for)
    last = ""
    while True:
        try:
            current = poll.read()
        except DeadlineExceeded:  # the read met the deadline
            raise late(last) from None
        words = poll.words(current)
        reported = False
        if words != last:
            last = words
            reported = poll.changed(current, words)
        if poll.ended(current):
            return current
        wait = next_wait(clock.now() - started, interval)
        heartbeat.beat(words, wait, reported=reported)
        try:
            deadline.sleep(wait, f"waiting for {waiting_for}")
        except DeadlineExceeded:
            raise late(last) from None
