"""The step summary's parts for the gates: the app's unit tests (after a deploy, or as the
`unit-tests` command) and a Mendix Pipelines run (the `pipeline-run` command).

Counts are the module's; the failed tests are listed as it listed them, in a code block
(text from the app is shown, never rendered). Passed tests are not listed by the module,
so the summary names none.
"""

from __future__ import annotations

from ci_step.report import render
from ci_step.report.result import StepResult

MAX_LISTED = 50  # failed tests in the summary; the JUnit report holds them all
TITLES = {"unit-tests": "Mendix unit tests", "pipeline-run": "Mendix pipeline run"}
# The outputs each command's summary shows.
COMMAND_OUTPUTS = {
    "unit-tests": (
        "result",
        "environment",
        "environment-url",
        "tests",
        "test-failures",
        "junit-file",
        "duration-seconds",
    ),
    "pipeline-run": ("result", "pipeline-run-id", "pipeline-status", "duration-seconds"),
}


def shown(result: StepResult, name: str) -> bool:
    """Is output ``name`` a row of the build step's summary: not when it belongs to a gate
    that did not run."""
    return name not in result.unused_outputs()


def _counts(result: StepResult) -> str:
    if result.tests is None:
        return "failed" if result.failed_phase == "unit-tests" else "not completed"
    failures = result.test_failures or 0
    if failures:
        return f"{failures} of {result.tests} failed"
    return f"{result.tests} passed"


def unit_tests_row(result: StepResult) -> list[str]:
    """The unit tests' row of the build step's phase table."""
    if not result.unit_tests_ran:
        return []
    where = f" on {render._code(result.environment)}" if result.environment else ""
    return [f"| Unit tests{where} | {render._code(_counts(result))} |"]


def unit_tests_section(result: StepResult) -> list[str]:
    """The counts and the failed tests, once a run completed."""
    if result.tests is None:
        return []
    lines = [
        "#### Unit tests",
        "",
        "| Tests | Failures |",
        "| --- | --- |",
        f"| {result.tests} | {result.test_failures or 0} |",
        "",
    ]
    listed = result.failed_tests[:MAX_LISTED]
    if listed:
        lines += ["Failed tests:", "", *render._block(listed), ""]
        more = len(result.failed_tests) - len(listed)
        if more:
            lines += [f"And {more} more: every failed test is in the JUnit report.", ""]
    unlisted = (result.test_failures or 0) - len(result.failed_tests)
    if unlisted > 0:
        lines += [f"{unlisted} of the failures were counted but not listed by the module.", ""]
    report = f" (JUnit report: {render._code(result.junit_file)})" if result.junit_file else ""
    lines += [
        "The Unit Testing module lists failed tests only: passed tests are counted, not "
        f"named{report}.",
        "",
    ]
    return lines


def command_summary(result: StepResult) -> str:
    """The step summary of `mendix-build unit-tests` and `mendix-build pipeline-run`."""
    title = TITLES.get(result.command, "Mendix build")
    lines = [f"### {render.icon(result)} {title}: {result.outcome}", "", *render._subject(result)]
    if result.error is not None:
        lines += render._what_happened(result, result.error)
    if result.command == "unit-tests":
        lines += unit_tests_section(result)
    outputs = result.outputs()
    lines += ["| Output | Value |", "| --- | --- |"]
    for name in COMMAND_OUTPUTS.get(result.command, tuple(outputs)):
        lines.append(f"| {name} | {render._code(outputs[name])} |")
    return "\n".join(lines) + "\n\n"
