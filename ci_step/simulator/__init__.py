"""A Build API simulator: real HTTP on loopback, in memory, with injectable faults."""

from ci_step.simulator.server import Fault, SimRequest, Simulator
from ci_step.simulator.state import BuildService, Durations, SimApp, SimPackage

__all__ = [
    "BuildService",
    "Durations",
    "Fault",
    "SimApp",
    "SimPackage",
    "SimRequest",
    "Simulator",
]
