"""The log is structlog's pipeline: bound fields, the events a test can capture with
structlog's own tool, and the same lines as a person reads them."""

from __future__ import annotations

import io
import json

from structlog.testing import capture_logs

from ci_step.flow.build import start_build, wait_for_build
from ci_step.flow.environment import Environment, Timing
from ci_step.log import Logger
from ci_step.report.result import StepResult
from ci_step.secrets import REGISTRY
from ci_step.simulator import Durations
from ci_step.units import Seconds
from tests.rig import Rig, plan_of


def test_capture_logs_sees_each_status_of_the_build_wait_with_its_package(rig: Rig) -> None:
    rig.service.durations = Durations(120, 960, 120)
    config = rig.config()
    services = rig.services(config)
    stream = io.StringIO()
    services.log = Logger("console", stream)
    with capture_logs() as events:
        package_id = start_build(plan_of(config), services)
        wait_for_build(services, config.app_id, package_id, config.poll_interval, StepResult())
    statuses = [e for e in events if e["event"].startswith("Build status")]
    assert [e["event"] for e in statuses] == [
        f"Build status: {s}" for s in ("Queued", "Building", "Uploading", "Succeeded")
    ]
    assert all(e["package_id"] == package_id and e["log_level"] == "info" for e in statuses)
    beats = [e for e in events if e["event"].startswith("Still waiting")]
    assert len(beats) == 10  # 1m .. 10m and 15m, less the marks a status change took
    assert "package_id" not in beats[0]  # its sentence names the package already
    assert stream.getvalue() == ""  # captured, not written


def test_capture_logs_sees_the_start_job_waits(rig: Rig) -> None:
    environment = rig.service.apps["calc"].environments["Acceptance"]
    environment.status = "Stopped"
    environment.start_seconds = 200
    services = rig.services(rig.config(timeout="1h"))
    timing = Timing(poll_interval=30, stop_timeout=600, start_timeout=600)
    with capture_logs() as events:
        Environment(services, "calc", "Acceptance", timing).start(auto_sync_db=True)
    names = [e["event"] for e in events]
    assert names[0] == "Start job created"
    assert names[-1] == "Environment Acceptance started"
    beats = [e for e in events if e["event"].startswith("Still waiting")]
    assert [int(b["waited"] // 60) for b in beats] == [1, 2, 3]
    assert all(isinstance(b["waited"], Seconds) for b in beats)


def test_a_logger_bound_before_the_capture_is_captured_and_writes_again_after() -> None:
    stream = io.StringIO()
    log = Logger("json", stream).bind(app="calc")
    with capture_logs() as events:
        log.info("Build started", package_id="p-1")
    assert events == [
        {"app": "calc", "package_id": "p-1", "event": "Build started", "log_level": "info"}
    ]
    assert stream.getvalue() == ""
    log.warning("Still here")
    (line,) = stream.getvalue().splitlines()
    assert list(json.loads(line)) == ["app", "event", "level", "elapsed", "timestamp"]


def test_bound_fields_read_as_fields_given_with_each_call() -> None:
    given, bound = io.StringIO(), io.StringIO()
    Logger("console", given).info("Build status: Queued", package_id="p-1", after=Seconds(2))
    Logger("console", bound).bind(package_id="p-1").info("Build status: Queued", after=Seconds(2))
    assert given.getvalue().split("] ", 1)[1] == bound.getvalue().split("] ", 1)[1]
    assert bound.getvalue().endswith("] Build status: Queued  package_id=p-1  after=2s\n")


def test_a_bound_logger_leaves_its_parent_as_it_was() -> None:
    stream = io.StringIO()
    parent = Logger("console", stream)
    parent.bind(package_id="p-1").info("one")
    parent.info("two", gone=None)
    first, second = (line.split("] ", 1)[1] for line in stream.getvalue().splitlines())
    assert (first, second) == ("one  package_id=p-1", "two")


def test_bound_secrets_are_redacted_and_commands_made_inert() -> None:
    REGISTRY.add("b0und-s3cret-value")
    try:
        stream = io.StringIO()
        log = Logger("json", stream).bind(token="b0und-s3cret-value", attempt=3)
        log.error("::error::b0und-s3cret-value")
        (event,) = map(json.loads, stream.getvalue().splitlines())
        assert event["token"] == "***"
        assert event["attempt"] == 3  # a number stays a number
        assert event["event"] == "::error::***"  # inside JSON: not at the start of a line
        console = io.StringIO()
        Logger("console", console).bind(note="x\n::warning::b0und-s3cret-value").info("Then")
        assert "\n: :warning::***" in console.getvalue()
        assert "b0und" not in console.getvalue()
    finally:
        REGISTRY.clear()
