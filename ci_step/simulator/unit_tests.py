"""The Unit Testing module in an app that a simulated environment runs.

Follows the module's own source (mendix/UnitTesting: ``RemoteApiServlet``, ``TestManager``):

- a run goes through every test suite in turn; when a suite starts, its result becomes
  Running, its failure count 0 and its tests' results empty; each test then ends passed or
  failed, and the suite ends Failed (any test failed) or Success;
- the status counts ``tests`` and ``failures`` over every suite the app knows (a suite not
  yet re-run still counts the failures of its last run), and lists as ``failed_tests`` the
  failed tests of the suites whose result is Failed: a failure in a suite still running is
  counted, not listed;
- the runner lives in memory: a restart of the app forgets it ("No testrun was started
  yet"), while the suites' counts, kept in the database, stay.

Tests are given a duration each (``seconds_per_test``, simulated seconds); a test fails when
it has an ``error``. apps.py serves this at each environment's app URL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

DEMO_REMOTE_API_KEY = "demo-unit-tests"  # RemoteApiPassword, as `simulate` takes it
ASSERTIONS_FAILED = "One or more assertions failed"  # a microflow test's error since 9.6
DEFAULT_TESTS = 12
PASSED, FAILED, RUNNING = "Success", "Failed", "Running"


@dataclass
class SimTest:
    name: str  # "Module.Test"
    error: str = ""  # the result message; a test with one fails
    step: str = ""  # the last step it reported
    result: str | None = None

    @property
    def fails(self) -> bool:
        return bool(self.error)


@dataclass
class SimSuite:
    module: str
    tests: list[SimTest] = field(default_factory=list)
    result: str | None = None
    failed_count: int = 0  # TestFailedCount: kept from the suite's last run


@dataclass
class SimRun:
    """The servlet's runner: when it started, and what is still to happen (time, change)."""

    started_at: float
    ends_at: float
    events: list[tuple[float, Callable[[], None]]]
    done: int = 0  # events applied


def suites_of(count: int, failing: Mapping[str, str] | None = None) -> list[SimSuite]:
    """``count`` tests in all (at least one per failing test): the failing ones as named
    (``{"Module.Test": "error"}``, their step "Assert the result"), the others
    ``MyFirstModule.Test_<n>``, grouped into a suite per module, in order."""
    failing = dict(failing or {})
    tests = [
        SimTest(name, error or ASSERTIONS_FAILED, "Assert the result")
        for name, error in failing.items()
    ]
    tests += [SimTest(f"MyFirstModule.Test_{n}") for n in range(1, max(0, count - len(tests)) + 1)]
    suites: dict[str, SimSuite] = {}
    for test in tests:
        module = test.name.partition(".")[0] or "MyFirstModule"
        suites.setdefault(module, SimSuite(module)).tests.append(test)
    return list(suites.values())


@dataclass
class UnitTesting:
    """The module in one app: enabled (its remote API registered), its password, suites."""

    enabled: bool = True  # UnitTesting.Enabled and RemoteApiEnabled, Startup microflow run
    password: str = DEMO_REMOTE_API_KEY  # UnitTesting.RemoteApiPassword
    suites: list[SimSuite] = field(default_factory=lambda: suites_of(DEFAULT_TESTS))
    seconds_per_test: float = 0.1
    run: SimRun | None = None
    starts: int = 0  # runs started through the remote API

    def restart(self) -> None:
        """The app stopped: the runner, held in memory, is gone."""
        self.run = None

    def running(self, now: float) -> bool:
        self.advance(now)
        return self.run is not None and now < self.run.ends_at

    def start(self, now: float) -> None:
        """A new run of every suite, from ``now`` (the caller checked none is running)."""
        for suite in self.suites:
            suite.result = None
        at = now
        events: list[tuple[float, Callable[[], None]]] = []
        for suite in self.suites:
            events.append((at, partial(_suite_starts, suite)))
            for test in suite.tests:
                at += self.seconds_per_test
                events.append((at, partial(_test_ends, suite, test)))
            events.append((at, partial(_suite_ends, suite)))
        self.run = SimRun(now, at, events)
        self.starts += 1
        self.advance(now)

    def advance(self, now: float) -> None:
        """Apply what has happened in the run by ``now``."""
        run = self.run
        while run is not None and run.done < len(run.events) and run.events[run.done][0] <= now:
            run.events[run.done][1]()
            run.done += 1

    def status(self, now: float) -> dict[str, Any] | None:
        """The servlet's status answer; None when no run was started since the app started."""
        if self.run is None:
            return None
        self.advance(now)
        completed = now >= self.run.ends_at
        runtime = round((self.run.ends_at - self.run.started_at) * 1000) if completed else -1
        return {
            "completed": completed,
            "runtime": runtime,
            "tests": sum(len(suite.tests) for suite in self.suites),
            "failures": sum(suite.failed_count for suite in self.suites),
            "failed_tests": [
                {"name": test.name, "error": test.error, "step": test.step}
                for suite in self.suites
                if suite.result == FAILED
                for test in suite.tests
                if test.result == FAILED
            ],
        }


def _suite_starts(suite: SimSuite) -> None:
    suite.result, suite.failed_count = RUNNING, 0
    for test in suite.tests:
        test.result = None


def _test_ends(suite: SimSuite, test: SimTest) -> None:
    test.result = FAILED if test.fails else PASSED
    suite.failed_count += test.fails


def _suite_ends(suite: SimSuite) -> None:
    suite.result = FAILED if suite.failed_count else PASSED
