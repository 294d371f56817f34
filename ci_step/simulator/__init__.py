"""A Build API simulator: real HTTP on loopback, in memory, with injectable faults."""

from ci_step.simulator.faults import Fault
from ci_step.simulator.packages import Durations, SimPackage
from ci_step.simulator.server import SimRequest, Simulator
from ci_step.simulator.state import BuildService, SimApp

__all__ = [
    "BuildService",
    "Durations",
    "Fault",
    "SimApp",
    "SimPackage",
    "SimRequest",
    "Simulator",
]
