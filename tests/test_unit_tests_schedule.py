"""The unit test run's waits on the fake clock: the polling schedule, the two timeouts, a
run under way waited for. The step talks real HTTP to the simulator's app; only time is
faked (each sleep moves the clock both sides read)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_step.errors import DeadlineExceeded
from ci_step.flow.schedule import next_wait
from ci_step.flow.unit_tests import run_unit_tests
from ci_step.report.result import StepResult
from ci_step.simulator import Fault
from ci_step.simulator.environments import SimEnvironment
from ci_step.simulator.unit_tests import suites_of
from tests.rig import Rig

PASSWORD = "rig-unit-tests-pw"
STATUS = r"/unittests/status$"


@pytest.fixture
def app(rig: Rig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SimEnvironment:
    monkeypatch.chdir(tmp_path)  # the workspace outside any CI: where the report goes
    rig.sim.serve_app_urls()
    environment = rig.service.apps["calc"].environments["Test"]
    environment.unit_testing.password = PASSWORD
    return environment


def run(rig: Rig, **values: str) -> StepResult:
    settings = {
        "environment": "Test",
        "unit-tests-password": PASSWORD,
        "poll-interval": "30",
        "timeout": "2h",
    }
    config = rig.config(**(settings | values))
    result = StepResult()
    run_unit_tests(config, rig.services(config), result)
    return result


def test_a_long_run_is_polled_on_the_schedule_and_noticed_within_its_lag(
    rig: Rig, app: SimEnvironment
) -> None:
    app.unit_testing.suites = suites_of(120)
    app.unit_testing.seconds_per_test = 10.0  # 20 minutes
    started = rig.clock.now()
    result = run(rig)
    assert (result.tests, result.test_failures, result.outcome) == (120, 0, "success")
    assert Path("mendix-unit-tests.xml").is_file()
    polls = len(rig.sim.requests("app", "POST", STATUS))
    elapsed = rig.clock.now() - started
    assert 1200 <= elapsed <= 1200 + 30  # detected within one poll-interval of the end
    # the schedule the build uses: fast first, then 20 % of the time waited, at most 30 s
    waits, t = [], 0.0
    while t < 1200:
        waits.append(next_wait(t, 30.0))
        t += waits[-1]
    assert polls == len(waits) + 1
    assert rig.clock.sleeps == pytest.approx(waits)


def test_unit_tests_timeout_ends_the_wait_and_says_the_run_goes_on(
    rig: Rig, app: SimEnvironment
) -> None:
    app.unit_testing.seconds_per_test = 600.0  # two hours
    started = rig.clock.now()
    with pytest.raises(DeadlineExceeded) as raised:
        run(rig, **{"unit-tests-timeout": "10m"})
    assert rig.clock.now() - started == pytest.approx(600)
    assert "did not complete within 10m (`unit-tests-timeout`, or what was left of `timeout`)" in (
        raised.value.message
    )
    assert "the run goes on in the app" in raised.value.message


def test_what_is_left_of_timeout_bounds_the_wait_too(rig: Rig, app: SimEnvironment) -> None:
    app.unit_testing.seconds_per_test = 600.0
    started = rig.clock.now()
    with pytest.raises(DeadlineExceeded) as raised:
        run(rig, timeout="5m")  # unit-tests-timeout is 30m
    assert rig.clock.now() - started == pytest.approx(300)
    assert "within 5m" in raised.value.message


def test_a_run_under_way_is_waited_for_to_its_end_before_this_one_starts(
    rig: Rig, app: SimEnvironment
) -> None:
    module = app.unit_testing
    module.seconds_per_test = 50.0  # 12 tests: 10 minutes
    module.start(rig.service.sim_now())  # someone else's run
    other_ends = module.run.ends_at if module.run else 0.0
    result = run(rig)
    assert result.outcome == "success"
    starts = [r for r in rig.sim.requests("app", "POST") if r.path.endswith("/start")]
    assert [s.status for s in starts] == [400, 204]
    assert module.starts == 2
    assert module.run is not None
    assert module.run.started_at >= other_ends  # never two runs at once
    assert module.run.started_at - other_ends <= 30  # noticed within one poll-interval


def test_a_start_refused_with_no_run_under_way_is_asked_again_after_a_wait(
    rig: Rig, app: SimEnvironment
) -> None:
    """An app that refuses the start as busy while its status knows no run: each new start
    waits poll-interval, never follows the status read at once."""
    refusals = 5
    rig.sim.add_fault(
        Fault(
            kind="status",
            listener="app",
            method="POST",
            path=r"/unittests/start$",
            status=400,
            body="Cannot start a test run while another test run is still running",
            times=refusals,
        )
    )
    result = run(rig)
    assert result.outcome == "success"
    starts = [r for r in rig.sim.requests("app", "POST") if r.path.endswith("/start")]
    assert [s.status for s in starts] == [400] * refusals + [204]
    # each start after a refusal waited poll-interval on the fake clock
    assert rig.clock.sleeps[:refusals] == [30.0] * refusals
