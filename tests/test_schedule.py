"""Polling and retry timing, with one fake clock shared by the step and the simulator.

The step talks real HTTP to the simulator; only time is faked, so a 20-minute
build takes milliseconds and the request count is exact.
"""

from __future__ import annotations

import email.utils
import random
import statistics

import pytest

from ci_step.errors import ApiUnavailable, DeadlineExceeded
from ci_step.flow.build import start_build, wait_for_build
from ci_step.flow.schedule import next_wait
from ci_step.report.result import StepResult
from ci_step.simulator import Fault
from tests.rig import Rig, plan_of


def test_twenty_minute_build_costs_at_most_70_requests(rig: Rig) -> None:
    count, lag = rig.build(20 * 60)
    assert count <= 70
    assert 0 <= lag <= 30


@pytest.mark.parametrize("seconds", [5, 10, 20, 30, 45, 59])
def test_short_builds_are_noticed_within_10_percent(rig: Rig, seconds: float) -> None:
    _, lag = rig.build(seconds)
    assert lag <= max(1.0, 0.1 * seconds) + 1e-6


def test_median_lag_under_a_minute_is_at_most_2_seconds(rig: Rig) -> None:
    lags = [rig.build(seconds)[1] for seconds in range(5, 60, 6)]
    assert statistics.median(lags) <= 2.0


@pytest.mark.parametrize("cap", ["2", "5", "30"])
def test_lag_never_exceeds_poll_interval(rig: Rig, cap: str) -> None:
    for seconds in (90, 300, 700):
        _, lag = rig.build(seconds, **{"poll-interval": cap})
        assert lag <= float(cap) + 1e-6


def test_fixed_10s_poll_would_cost_120_requests() -> None:
    # The baseline the schedule is measured against, computed with the same clock rules.
    assert len(range(0, 20 * 60, 10)) == 120
    elapsed, count = 0.0, 0
    while elapsed < 20 * 60:
        count += 1
        elapsed += next_wait(elapsed, 30)
    assert count <= 70


def test_deadline_stops_polling_a_stuck_build(rig: Rig) -> None:
    rig.service.apps["calc"].stuck_builds = True
    config = rig.config(timeout="2m")
    services = rig.services(config)
    package_id = start_build(plan_of(config), services)
    started = rig.clock.now()
    result = StepResult()
    with pytest.raises(
        DeadlineExceeded, match=r"The timeout of 2m passed while package .* was Queued"
    ):
        wait_for_build(services, config.app_id, package_id, config.poll_interval, result)
    assert rig.clock.now() - started <= 120
    assert result.status == "Queued"


def test_retry_after_seconds_is_honoured(rig: Rig) -> None:
    rig.sim.add_fault(Fault("status", method="GET", status=429, retry_after="7", times=2))
    config = rig.config()
    services = rig.services(config)
    assert services.api.list_packages("calc") == []
    assert rig.clock.sleeps == [7.0, 7.0]


def test_retry_after_http_date_is_honoured(rig: Rig) -> None:
    # The date is read against the transport's wall clock (the fake one here): exact.
    when = email.utils.formatdate(rig.clock.wall() + 30, usegmt=True)
    rig.sim.add_fault(Fault("status", method="GET", status=503, retry_after=when))
    services = rig.services(rig.config())
    services.api.list_packages("calc")
    assert rig.clock.sleeps == [30.0]


def test_retry_after_zero_still_waits_a_second(rig: Rig) -> None:
    rig.sim.add_fault(Fault("status", method="GET", status=429, retry_after="0", times=3))
    services = rig.services(rig.config())
    services.api.list_packages("calc")
    assert rig.clock.sleeps == [1.0, 1.0, 1.0]


def test_rate_limit_waits_are_bounded_by_the_deadline_not_the_attempts(rig: Rig) -> None:
    # Twelve asked waits: more than the eight attempts that other failures get.
    rig.sim.add_fault(Fault("status", method="GET", status=429, retry_after="5", times=12))
    services = rig.services(rig.config(timeout="2m"))
    assert services.api.list_packages("calc") == []
    assert rig.clock.sleeps == [5.0] * 12
    rig.sim.add_fault(Fault("status", method="GET", status=429, retry_after="5", times=-1))
    with pytest.raises(ApiUnavailable, match="would pass the timeout"):
        services.api.list_packages("calc")
    assert rig.clock.now() - services.deadline.started <= 120


def backoff_of(rig: Rig, seed: int) -> list[float]:
    rig.clock.sleeps.clear()
    rig.sim.add_fault(Fault("status", method="GET", status=502, times=5))
    services = rig.services(rig.config(), seed=seed)
    services.api.list_packages("calc")
    return list(rig.clock.sleeps)


def test_backoff_is_exponential_with_full_jitter(rig: Rig) -> None:
    sleeps = backoff_of(rig, seed=7)
    assert len(sleeps) == 5
    for attempt, slept in enumerate(sleeps, start=1):
        assert 0 <= slept <= min(30, 2 ** (attempt - 1))
    # The jitter comes from the injected generator: the same seed, the same waits.
    expected = random.Random(7)
    assert sleeps == [expected.uniform(0, min(30, 2 ** (a - 1))) for a in range(1, 6)]
    assert backoff_of(rig, seed=7) == sleeps
    assert backoff_of(rig, seed=8) != sleeps


def test_retry_after_beyond_the_deadline_gives_up_at_once(rig: Rig) -> None:
    rig.sim.add_fault(Fault("status", method="GET", status=503, retry_after="600", times=-1))
    services = rig.services(rig.config(timeout="5m"))
    with pytest.raises(ApiUnavailable, match="would pass the timeout"):
        services.api.list_packages("calc")
    assert rig.clock.sleeps == []


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_client_errors_are_never_retried(rig: Rig, status: int) -> None:
    rig.sim.add_fault(Fault("status", method="GET", status=status, times=-1))
    services = rig.services(rig.config())
    with pytest.raises(Exception, match=f"HTTP {status}"):
        services.api.list_packages("calc")
    assert len(rig.sim.requests("api", "GET")) == 1


@pytest.mark.parametrize("kind", ["status", "reset"])
@pytest.mark.parametrize(("processed", "posts"), [(True, 1), (False, 2)])
def test_failed_start_creates_exactly_one_build(
    rig: Rig, kind: str, processed: bool, posts: int
) -> None:
    # processed: the build was created but the answer was lost; else nothing happened.
    rig.sim.add_fault(Fault(kind, method="POST", status=503, process=processed))
    config = rig.config()
    package_id = start_build(plan_of(config), rig.services(config))
    assert [p.package_id for p in rig.service.apps["calc"].packages] == [package_id]
    assert len(rig.sim.requests("api", "POST")) == posts
