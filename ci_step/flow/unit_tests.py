"""The app's unit tests through the Unit Testing module's remote API: after a successful
deploy (``unit-tests: true``) or as ``mendix-build unit-tests`` for an environment that runs.

1. The app's root URL: unit-tests-url, else the environment's ``Url`` from the Deploy API.
   It is https, or plain http to a loopback address when base-url is one too; the password
   goes there and nowhere else (a session of its own, no redirect followed).
2. Start a run. When one is under way already (400 "Cannot start a test run while another
   test run is still running": two runs at once give inconsistent results), wait for it to
   end, then start this one, and say so.
3. Read the status on the polling schedule until ``completed``, within unit-tests-timeout
   and what is left of timeout. A status of "No testrun was started yet" meanwhile means the
   app restarted (the module keeps its runs in memory): the run is lost.
4. Write the JUnit report into the workspace (ci_step.files), fill in the outputs; any
   failure is UnitTestsFailed (exit 8), after a deploy that itself succeeded.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from ci_step import files
from ci_step.clock import Deadline
from ci_step.config.parsers import shown
from ci_step.config.validate import Config
from ci_step.domain.hosts import is_loopback_http, is_plain_https_url
from ci_step.domain.unit_tests import RunStatus
from ci_step.errors import (
    ApiError,
    DeadlineExceeded,
    OutputError,
    UnitTestsFailed,
    input_name,
)
from ci_step.flow.outputs import url_output
from ci_step.flow.poll import Poll, poll
from ci_step.flow.services import Services
from ci_step.mendix.deploy_api import DeployApi
from ci_step.mendix.transport import Uncertain
from ci_step.mendix.unit_tests_api import UnitTestsApi
from ci_step.report import junit
from ci_step.report.result import StepResult
from ci_step.units import Seconds, format_duration

NAMED = 5  # failed tests named in the error message; all are in the report and summary


def run_unit_tests(config: Config, services: Services, result: StepResult) -> None:
    """`mendix-build unit-tests`: the tests of an environment (or URL) that already runs."""
    result.command = "unit-tests"
    result.environment = config.environment
    run = UnitTestRun.of(config, services, result)
    status = run.run()
    result.summary = f"{_count(status.tests, 'unit test')} passed on {run.where}"
    result.succeed()


def after_deploy(config: Config, services: Services, result: StepResult) -> None:
    """After a successful deploy: the app's unit tests, when unit-tests is true."""
    if config.unit_tests:
        UnitTestRun.of(config, services, result).run()


def dry_run_steps(config: Config) -> str:
    """What the dry run of a deploy adds: '' without unit tests."""
    return ", then run the app's unit tests" if config.unit_tests else ""


@dataclass
class UnitTestRun:
    config: Config
    services: Services
    result: StepResult
    api: UnitTestsApi
    where: str  # "Test", or the app's host: what messages name

    @classmethod
    def of(cls, config: Config, services: Services, result: StepResult) -> UnitTestRun:
        result.enter("unit-tests")
        url = _app_url(config, services, result)
        origin = (
            input_name("unit-tests-url")
            if config.unit_tests_url
            else f"the Url of environment {config.environment}"
        )
        transport = services.transport(origin, "The app's unit test API")
        api = UnitTestsApi(url, config.unit_tests_password or "", transport)
        where = config.environment or urlsplit(url).hostname or url
        return cls(config, services, result, api, where)

    def run(self) -> RunStatus:
        """Start a run, wait for it to complete, report it; the completed status."""
        log = self.services.log
        deadline = self._deadline()
        self._start(deadline)
        log.info(f"Unit tests started on {self.where}")
        self.result.on_mendix = f"the run of the app's unit tests goes on on {self.where}"
        status = self._watch(deadline, "the app's unit tests")
        self.result.on_mendix = ""
        if status is None:
            raise ApiError(
                f"The app on {self.where} answered 'No testrun was started yet' while its unit "
                "tests ran: the app restarted, and the module keeps its runs in memory, so "
                "the run was lost.",
                error_code="NO_TEST_RUN",
                fix="run the unit tests again once the app runs",
            )
        self._report(status)
        return status

    def _deadline(self) -> Deadline:
        """unit-tests-timeout, within what is left of timeout."""
        left = self.services.deadline.remaining()
        return Deadline(self.services.clock, min(self.config.unit_tests_timeout, left))

    def _start(self, deadline: Deadline) -> None:
        """Start a run; while another one is under way, wait for it to end first. After a
        lost answer, a run under way is taken as this one; else the start is asked again,
        once."""
        log, lost = self.services.log, 0
        while True:
            try:
                if self.api.start():
                    return
            except Uncertain as exc:
                lost += 1
                status = self.api.status()
                if status is not None and not status.completed:
                    log.warning(
                        "The start request failed after it may have reached the app; a run "
                        "is under way, taken as this one",
                        reason=exc.message,
                    )
                    return
                if lost > 1:
                    raise
                log.warning("The start request failed; starting again", reason=exc.message)
                continue
            under_way = self.api.status()
            if under_way is None or under_way.completed:
                # refused as busy, yet no run is under way: ask again after a wait, never at once
                self._pause(deadline)
                continue
            log.info(
                f"Another run of the unit tests is under way on {self.where}; waiting for it "
                "to end before starting this one (two runs at once give inconsistent results)"
            )
            self._watch(deadline, "the run of the unit tests already under way")

    def _pause(self, deadline: Deadline) -> None:
        """A wait of poll-interval before the start is asked again."""
        what = "the run of the unit tests already under way"
        try:
            deadline.sleep(self.config.poll_interval, f"waiting for {what}")
        except DeadlineExceeded:
            raise self._late(deadline, what) from None

    def _watch(self, deadline: Deadline, what: str) -> RunStatus | None:
        """Read the status on the polling schedule until the run completes; None when no
        run is known (the app restarted)."""
        log = self.services.log

        def changed(status: RunStatus | None, _words: str) -> bool:
            if status is None or status.completed or not status.failures:
                return False
            log.info("Unit tests under way", failures_so_far=status.failures)
            return True

        def late(_status: str) -> DeadlineExceeded:
            return self._late(deadline, what)

        run = Poll(self.api.status, _so_far, changed, _ended)
        return poll(run, deadline, log, what, self.config.poll_interval, late)

    def _late(self, deadline: Deadline, what: str) -> DeadlineExceeded:
        own, step = input_name("unit-tests-timeout"), input_name("timeout")
        return DeadlineExceeded(
            f"{what[0].upper()}{what[1:]} on {self.where} did not complete within "
            f"{format_duration(deadline.seconds)} ({own}, or what was left of {step}); the "
            "run goes on in the app.",
            fix=f"raise {own} or {step}; the Unit Testing module's page in the app shows the run",
        )

    def _report(self, status: RunStatus) -> None:
        """The outputs, the JUnit report and the log; UnitTestsFailed on any failure."""
        log, result = self.services.log, self.result
        result.tests, result.test_failures = status.tests, status.failures
        result.failed_tests = [test.describe() for test in status.failed]
        took = Seconds(status.runtime_ms / 1000) if status.runtime_ms >= 0 else None
        for test in status.failed:
            log.warning(
                "Unit test failed", test=test.name or None, error=test.error, step=test.step
            )
        self._write_report(status)
        if status.failures:
            raise UnitTestsFailed(_failed(status, self.where))
        if status.tests == 0:
            log.warning(
                f"The app on {self.where} has no unit tests: the module found no test suite "
                "with tests"
            )
        log.info(f"Unit tests passed on {self.where}", tests=status.tests, took=took)

    def _write_report(self, status: RunStatus) -> None:
        """The JUnit report, written the way every file of the step is (ci_step.files)."""
        config = self.config
        app = f"{config.app_id} on {self.where}" if config.app_id else self.where
        seconds = status.runtime_ms / 1000 if status.runtime_ms >= 0 else None
        report = junit.Report(
            f"Mendix unit tests: {app}", status.tests, status.failures, seconds, status.failed
        )
        text = junit.render(report)
        try:
            with files.Replacement(config.workspace, config.junit_file, ".tmp") as new:
                new.file.write(text.encode("utf-8"))
                new.commit()
        except (files.Changed, OSError) as exc:
            reason = str(exc) if isinstance(exc, files.Changed) else exc.strerror or str(exc)
            raise OutputError(
                f"The JUnit report of the unit tests ({status.failures} of {status.tests} "
                f"failed) was not written to {config.shown_path(config.junit_file)}: {reason}.",
                fix=f"set {input_name('junit-file')} to a file in a writable directory of the "
                "workspace",
            ) from None
        self.result.junit_file = config.shown_path(config.junit_file)
        self.services.log.info("JUnit report written", path=self.result.junit_file)


def _app_url(config: Config, services: Services, result: StepResult) -> str:
    """unit-tests-url, else the environment's Url as the Deploy API gives it, when the
    password may go there."""
    if config.unit_tests_url:
        return config.unit_tests_url
    mode = config.environment
    url = DeployApi(services.api).get_environment(config.app_id, mode).url.rstrip("/")
    result.environment_url = result.environment_url or url_output(url, services.log)
    if is_plain_https_url(url):
        return url
    if is_loopback_http(url) and is_loopback_http(services.api.base_url):
        return url
    given = f"the URL {shown(url)}" if url else "no Url"
    raise ApiError(
        f"The Deploy API gave environment {mode} {given}; the unit-test password goes only "
        "to a plain https URL (plain http only to a loopback address, when "
        f"{input_name('base-url')} is one too).",
        fix=f"set {input_name('unit-tests-url')} to the app's https URL",
    )


def _so_far(status: RunStatus | None) -> str:
    return "" if status is None else f"{status.failures} failures so far"


def _ended(status: RunStatus | None) -> bool:
    """The run completed, or none is known (the app restarted)."""
    return status is None or status.completed


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _failed(status: RunStatus, where: str) -> str:
    """The error's message: how many failed, and the first names."""
    names = [test.name or "(unnamed test)" for test in status.failed[:NAMED]]
    more = len(status.failed) - len(names)
    listed = ", ".join(names) + (f" and {more} more" if more else "")
    text = f"{status.failures} of {_count(status.tests, 'unit test')} failed on {where}"
    if listed:
        text += f": {listed}"
    if status.unlisted:
        text += f" ({status.unlisted} counted but not listed by the module)"
    return text + "."
