"""What every flow needs from outside: the API clients, the storage session, time, a log."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

import requests

from ci_step.clock import Clock, Deadline
from ci_step.inert import Writer
from ci_step.log import Log
from ci_step.mendix.build_api import BuildApi
from ci_step.mendix.repository import RepositoryApi
from ci_step.mendix.transport import Transport
from ci_step.units import Seconds


@dataclass
class Services:
    api: BuildApi
    storage: requests.Session
    deadline: Deadline
    clock: Clock
    log: Log
    out: Writer = sys.stdout  # what a command prints for people and scripts
    repository: RepositoryApi | None = None

    def transport(self, origin: str, calls: str) -> Transport:
        """A session of its own for another host, within the step's deadline; a failed call
        tried again says so (``calls``: "Mendix Pipelines API" names them in the line).
        ``origin``: the input the host came from, as spelled, for errors."""
        on_retry = retry_warning(self.log, calls)
        return Transport(requests.Session(), self.deadline, on_retry=on_retry, origin=origin)


def retry_warning(log: Log, calls: str) -> Callable[[str, float, int], None]:
    """The warning a transport logs before it tries a failed call again."""

    def on_retry(reason: str, wait: float, attempt: int) -> None:
        log.warning(
            f"{calls} call failed; retrying", reason=reason, wait=Seconds(wait), attempt=attempt
        )

    return on_retry
