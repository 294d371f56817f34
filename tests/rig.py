"""A fake clock shared by the step and the simulator, and a rig around them.

The step talks real HTTP to the simulator; only time is faked (sleeps advance it).
"""

from __future__ import annotations

import io
import random
from collections.abc import Iterator
from dataclasses import dataclass

import requests

from ci_step.clock import Deadline
from ci_step.config.inputs import INPUTS
from ci_step.config.validate import Config, RawInput, validate
from ci_step.flow.build import start_build, wait_for_build
from ci_step.flow.plan import Plan
from ci_step.flow.services import Services
from ci_step.log import Logger
from ci_step.mendix.build_api import BuildApi
from ci_step.mendix.transport import RetryPolicy, Transport
from ci_step.report.ci_env import CiEnv, Platform
from ci_step.report.result import StepResult
from ci_step.simulator import BuildService, Durations, Simulator
from tests.conftest import API_KEY, USER

REVISION = "abcdef1234"


def plan_of(config: Config) -> Plan:
    """The plan of a config with an explicit revision and version."""
    return Plan(config.app_id, config.branch, config.revision, config.version, config.description)


WALL_EPOCH = 1_790_000_000.0  # the wall-clock time (Unix seconds) the fake clock starts at


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    def wall(self) -> float:
        """Wall-clock time, moving with ``now``."""
        return WALL_EPOCH + self.t - 1000.0

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += max(0.0, seconds)


@dataclass
class Rig:
    clock: FakeClock
    service: BuildService
    sim: Simulator

    def config(self, **values: str) -> Config:
        base = {
            "app-id": "calc",
            "username": USER,
            "api-key": API_KEY,
            "revision": REVISION,
            "version": "1.0.0",
            "base-url": self.sim.base_url,
        } | values
        raw = {s.name: RawInput(base.get(s.name, s.default), s.name) for s in INPUTS}
        return validate(raw, CiEnv(Platform.LOCAL, {}))

    def services(self, config: Config, read_timeout: float = 60.0, seed: int = 7) -> Services:
        """The step's services on the fake clock, with jitter drawn from ``Random(seed)``."""
        deadline = Deadline(self.clock, config.timeout)
        policy = RetryPolicy(read_timeout=read_timeout)
        transport = Transport(
            requests.Session(),
            deadline,
            policy,
            rng=random.Random(seed),
        )
        api = BuildApi(config.base_url, config.username, config.api_key, transport)
        return Services(
            api, requests.Session(), deadline, self.clock, Logger("console", io.StringIO())
        )

    def build(self, seconds: float, **values: str) -> tuple[int, float]:
        """Run one build of ``seconds``; (status requests, detection lag)."""
        self.service.durations = Durations(seconds * 0.1, seconds * 0.8, seconds * 0.1)
        config = self.config(**values)
        services = self.services(config)
        package_id = start_build(plan_of(config), services)
        package = self.service.apps["calc"].packages[-1]
        before = len(self.sim.requests("api", "GET"))
        wait_for_build(services, config.app_id, package_id, config.poll_interval, StepResult())
        done_at = self.service._epoch + package.created_at + seconds
        requests_made = len(self.sim.requests("api", "GET")) - before
        return requests_made, self.clock.now() - done_at


def make_rig() -> Iterator[Rig]:
    clock = FakeClock()
    service = BuildService(USER, API_KEY, clock=clock.now)
    service.add_app("calc")
    with Simulator(service) as sim:
        yield Rig(clock, service, sim)
