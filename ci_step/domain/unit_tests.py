"""A run of the app's unit tests as the Unit Testing module's remote API reports it.

``POST /unittests/status`` answers ``{"completed", "runtime", "tests", "failures",
"failed_tests": [{"name", "error", "step"}]}``: ``tests`` and ``failures`` are totals over
every test suite the app knows, ``runtime`` is -1 until the run completes, and
``failed_tests`` lists the failed tests of the suites that have finished and failed. The
module leaves a field out when it has no value (org.json drops a null), so each is read
without trusting it. Passed tests, durations per test and stack traces are not given.

Test names, errors and steps come from the app: each is made printable and bounded here
(``neutral``), before any log, summary or report sees it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ci_step.domain.answers import neutral
from ci_step.errors import ApiError

MAX_NAME = 300
MAX_STEP = 1000
MAX_ERROR = 4000
UNNAMED = "(unnamed test)"


@dataclass(frozen=True)
class FailedTest:
    name: str  # "Module.Test" for a microflow test; "" when the module gave none
    error: str  # since module 9.6 often a fixed phrase: "One or more assertions failed"
    step: str  # the last step the test reported

    @property
    def module(self) -> str:
        """The module part of the name ('' when the name has none)."""
        module, dot, _ = self.name.partition(".")
        return module if dot else ""

    @property
    def test(self) -> str:
        """The name without its module."""
        if self.module:
            return self.name[len(self.module) + 1 :] or self.name
        return self.name or UNNAMED

    def describe(self) -> str:
        """One line for a person: name, error and step."""
        text = f"{self.name or UNNAMED}: {self.error or 'no error message'}"
        text = " ".join(text.split())
        return f"{text} (step: {self.step})" if self.step else text


@dataclass(frozen=True)
class RunStatus:
    completed: bool
    runtime_ms: int  # -1 until the run completes
    tests: int  # every test the app knows
    failures: int  # failures counted so far, over every suite
    failed: tuple[FailedTest, ...]  # those of the suites that finished and failed

    @property
    def unlisted(self) -> int:
        """Failures the module counted but did not list (a suite still running, or one
        that ended without a result)."""
        return max(0, self.failures - len(self.failed))


def _not_status(what: str) -> ApiError:
    return ApiError(
        f"The app's answer to the status of its unit tests is not a test run's status: {what}."
    )


def _count(data: dict[str, Any], key: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _not_status(f"it has no count of {key}")
    return value


def parse_status(data: object) -> RunStatus:
    """The status answer; ApiError saying what is missing when it is not one."""
    if not isinstance(data, dict):
        raise _not_status("it is not a JSON object")
    completed = data.get("completed")
    if not isinstance(completed, bool):
        raise _not_status("it has no 'completed' flag")
    runtime = data.get("runtime")
    runtime_ms = runtime if isinstance(runtime, int) and not isinstance(runtime, bool) else -1
    listed = data.get("failed_tests")
    failed = tuple(
        FailedTest(
            neutral(item.get("name"), MAX_NAME),
            neutral(item.get("error"), MAX_ERROR, keep="\n"),
            neutral(item.get("step"), MAX_STEP),
        )
        for item in (listed if isinstance(listed, list) else [])
        if isinstance(item, dict)
    )
    return RunStatus(completed, runtime_ms, _count(data, "tests"), _count(data, "failures"), failed)
