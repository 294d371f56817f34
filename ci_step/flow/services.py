"""What every flow needs from outside: the API clients, the storage session, time, a log."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import requests

from ci_step.clock import Clock, Deadline
from ci_step.inert import Writer
from ci_step.log import Log
from ci_step.mendix.build_api import BuildApi
from ci_step.mendix.repository import RepositoryApi


@dataclass
class Services:
    api: BuildApi
    storage: requests.Session
    deadline: Deadline
    clock: Clock
    log: Log
    out: Writer = sys.stdout  # what a command prints for people and scripts
    repository: RepositoryApi | None = None
