"""A log and a summary a person can follow: heartbeats during long waits (on the fake
clock), sizes and durations as people read them (exact in JSON), a closing line that says
what each command did, and a step summary that says what failed first."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from ci_step.flow.build import start_build, wait_for_build
from ci_step.flow.environment import Environment, Timing
from ci_step.flow.heartbeat import next_mark
from ci_step.log import Logger
from ci_step.report import render
from ci_step.report.result import StepResult
from ci_step.simulator import BuildService, Durations, Simulator
from ci_step.units import Bytes, Seconds, format_duration, format_size
from tests.conftest import base_env, github_env, inputs, mendix_env, run_entrypoint, run_local
from tests.rig import Rig, plan_of

# --- the heartbeat, on the fake clock --------------------------------------------------


def json_lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_heartbeat_marks_are_every_minute_then_every_five() -> None:
    marks, mark = [], 0.0
    while mark < 1800:
        mark = next_mark(mark)
        marks.append(mark)
    assert marks[:11] == [60.0 * n for n in range(1, 11)] + [900.0]
    assert marks[11:] == [1200.0, 1500.0, 1800.0]
    assert next_mark(61.5) == 120.0
    assert next_mark(601.0) == 900.0


def test_a_twenty_minute_build_beats_at_each_mark_without_a_status_change(rig: Rig) -> None:
    # Queued 2 minutes, Building 16, Uploading 2: the changes at 2m and 18m are logged
    # lines of their own, so the marks they fall on pass in silence.
    rig.service.durations = Durations(120, 960, 120)
    config = rig.config()
    services = rig.services(config)
    stream = io.StringIO()
    services.log = Logger("json", stream)
    package_id = start_build(plan_of(config), services)
    wait_for_build(services, config.app_id, package_id, config.poll_interval, StepResult())
    events = json_lines(stream)
    beats = [e for e in events if str(e["event"]).startswith("Still waiting")]
    expected = [60, 180, 240, 300, 360, 420, 480, 540, 600, 900]
    assert [int(float(str(b["waited"])) // 60 * 60) for b in beats] == expected
    for beat, mark in zip(beats, expected, strict=True):
        waited = float(str(beat["waited"]))
        assert mark <= waited < mark + 30  # the first check after the mark (poll-interval 30)
        assert beat["event"] == f"Still waiting for the build of package {package_id}"
        assert beat["status"] == ("Queued" if mark < 120 else "Building")
        assert 0 < float(str(beat["next_check_in"])) <= 30
    statuses = [e["event"] for e in events if str(e["event"]).startswith("Build status")]
    assert statuses == [
        f"Build status: {s}" for s in ("Queued", "Building", "Uploading", "Succeeded")
    ]


def test_heartbeat_reads_as_a_person_reads_it_in_console_lines(rig: Rig) -> None:
    rig.service.durations = Durations(400, 10, 10)
    config = rig.config()
    services = rig.services(config)
    stream = io.StringIO()
    services.log = Logger("console", stream)
    package_id = start_build(plan_of(config), services)
    wait_for_build(services, config.app_id, package_id, config.poll_interval, StepResult())
    beats = [line for line in stream.getvalue().splitlines() if "Still waiting" in line]
    assert len(beats) == 6  # 1m ... 6m; the build is Building by 7m
    texts = [line.split("] ", 1)[1] for line in beats]
    head = f"Still waiting for the build of package {package_id}"
    assert texts[0] == f"{head}  status=Queued  waited=1m 1s  next_check_in=12.2s"
    assert texts[1] == f"{head}  status=Queued  waited=2m 7s  next_check_in=25.4s"
    assert texts[-1] == f"{head}  status=Queued  waited=6m 2s  next_check_in=30s"


def test_a_slow_start_beats_with_the_start_job_status(rig: Rig) -> None:
    environment = rig.service.apps["calc"].environments["Acceptance"]
    environment.status = "Stopped"
    environment.start_seconds = 200
    config = rig.config(timeout="1h")
    services = rig.services(config)
    stream = io.StringIO()
    services.log = Logger("json", stream)
    timing = Timing(poll_interval=30, stop_timeout=600, start_timeout=600)
    Environment(services, "calc", "Acceptance", timing).start(auto_sync_db=True)
    beats = [e for e in json_lines(stream) if str(e["event"]).startswith("Still waiting")]
    assert [int(float(str(b["waited"])) // 60) for b in beats] == [1, 2, 3]
    assert {b["event"] for b in beats} == {"Still waiting for environment Acceptance to start"}
    assert all(b["status"] for b in beats)


# --- sizes and durations -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (262_144, "256.0 KiB"),
        (432_331_571, "412.3 MiB"),
        (1_048_575, "1.0 MiB"),
        (3 * 1024**3, "3.0 GiB"),
    ],
)
def test_sizes_read_in_binary_units(count: int, text: str) -> None:
    assert format_size(count) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.04, "0s"),
        (0.5, "0.5s"),
        (45, "45s"),
        (60, "1m"),
        (252.3, "4m 12s"),
        (3600, "1h"),
        (3603, "1h 0m 3s"),
        (7320, "2h 2m"),
    ],
)
def test_durations_read_in_minutes_and_seconds(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_console_shows_people_text_and_json_keeps_the_exact_number() -> None:
    console, as_json = io.StringIO(), io.StringIO()
    for log in (Logger("console", console), Logger("json", as_json)):
        log.info("Package downloaded", size=Bytes(432_331_571), took=Seconds(252.34), gone=None)
    line = console.getvalue()
    assert "size=412.3 MiB  took=4m 12s" in line
    assert "gone" not in line
    (event,) = json_lines(as_json)
    assert event["size"] == 432_331_571
    assert event["took"] == 252.34
    assert "gone" not in event


class Writes(io.StringIO):
    """A stream that keeps each write call."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def write(self, text: str) -> int:
        self.calls.append(text)
        return super().write(text)


def test_a_json_line_is_one_write_with_fields_then_event_level_elapsed_and_utc_time() -> None:
    stream = Writes()
    Logger("json", stream).warning("Still waiting", status="Building", gone=None)
    (call,) = stream.calls  # one write per line: no other writer can split it
    assert call.endswith("\n")
    assert call.count("\n") == 1
    event = json.loads(call)
    assert list(event) == ["status", "event", "level", "elapsed", "timestamp"]
    assert event["level"] == "warning"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", str(event["timestamp"]))


def test_download_lines_read_humanly_and_exactly(sim: Simulator, workspace: Path) -> None:
    console = run_local(sim, workspace, version="1.2.3")
    assert console.code == 0, console.stderr
    assert "Downloading package  path=calc-1.2.3.mda  size=195.3 KiB" in console.stderr
    assert "Package downloaded  path=calc-1.2.3.mda  size=195.3 KiB  sha256=" in console.stderr
    assert "Download progress  done=" in console.stderr
    assert "bytes=" not in console.stderr
    assert "=None" not in console.stderr
    env = base_env(workspace.parent) | mendix_env(inputs(sim, log_format="json", version="1.2.4"))
    as_json = run_entrypoint(env, workspace)
    assert as_json.code == 0, as_json.stderr
    events = {e["event"]: e for e in map(json.loads, as_json.stderr.splitlines())}
    assert events["Package downloaded"]["size"] == 200_000
    assert events["Downloading package"]["size"] == 200_000
    assert events["Build step succeeded"]["size"] == 200_000
    assert isinstance(events["Build step succeeded"]["took"], float)


# --- the closing line ------------------------------------------------------------------


def last_line(stderr: str) -> str:
    return stderr.rstrip("\n").splitlines()[-1].split("] ", 1)[1]


def test_every_command_ends_with_what_it_did(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    old = service.seed_package("calc", "1.0.0", age_seconds=7200)
    new = service.seed_package("calc", "1.0.1", age_seconds=3600)
    expected = {
        ("list",): "Listed 2 packages of app calc",
        ("show", new.package_id): f"Showed package {new.package_id} (Succeeded)",
        ("delete", old.package_id, "--dry-run"): (
            f"Dry run: package {old.package_id} would be deleted; nothing was changed"
        ),
        ("prune", "--keep", "1", "--dry-run"): (
            "Dry run: 1 package would be deleted, 1 kept; nothing was changed"
        ),
        ("--dry-run", "true"): "Dry run: nothing was started or changed",
        ("deploy", new.package_id, "--environment", "Acceptance", "--dry-run", "true"): (
            "Dry run: nothing was changed"
        ),
        ("delete", old.package_id): f"Deleted package {old.package_id}",
        ("prune", "--keep", "0"): "Pruned: deleted 1 package, kept 0",
    }
    for args, line in expected.items():
        run = run_local(sim, workspace, *args)
        assert run.code == 0, run.stderr
        assert last_line(run.stderr) == line, args
        assert "step succeeded" not in run.stderr
        assert "=None" not in run.stderr


def test_deploy_ends_with_what_runs_where(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    service.apps["calc"].environments["Acceptance"].start_seconds = 0.2
    package = service.seed_package("calc", "1.0.0")
    run = run_local(sim, workspace, "deploy", package.package_id, environment="Acceptance")
    assert run.code == 0, run.stderr
    assert last_line(run.stderr) == (
        f"Package {package.package_id} (version 1.0.0) runs on Acceptance at "
        "https://calc-accp.mendixcloud.example"
    )


def test_the_build_step_keeps_its_closing_line_without_empty_fields(
    sim: Simulator, workspace: Path
) -> None:
    run = run_local(sim, workspace, download="false")
    assert run.code == 0, run.stderr
    line = last_line(run.stderr)
    assert line.startswith("Build step succeeded  package_id=")
    assert "artifact" not in line
    assert "environment" not in line
    assert "took=" in line


# --- the step summary --------------------------------------------------------------------


def summary_of(workspace: Path) -> str:
    return (workspace.parent / "file_commands" / "step_summary").read_text("utf-8")


def test_summary_of_a_failed_deploy_says_what_failed_first_and_the_state_left(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    acceptance = service.apps["calc"].environments["Acceptance"]
    acceptance.start_seconds = 0.2
    acceptance.start_error = "DB_SYNC_FAILED"
    values = inputs(sim, environment="Acceptance")
    run = run_entrypoint(github_env(workspace, values), workspace)
    assert run.code == 7, run.stderr
    summary = summary_of(workspace)
    head, rest = summary.split("#### What happened", 1)
    assert "Mendix build and deploy: failure" in head
    link = "[https://calc-accp.mendixcloud.example](https://calc-accp.mendixcloud.example)"
    assert f"App ` calc `, environment ` Acceptance ` ({link}), took " in head
    happened = rest.split("| Phase | Outcome |", 1)[0]
    assert "**Failed while starting the environment.** Now: ` Environment Acceptance is " in (
        happened
    )
    assert "DB_SYNC_FAILED" in happened
    assert "| Build | ` Succeeded ` |" in summary
    assert "| Download | ` calc-1.2.3.mda ` (195.3 KiB) |" in summary
    assert "| Deploy to ` Acceptance ` | ` failure ` ` Environment Acceptance is " in summary


def test_summary_of_a_failed_build_names_the_build(sim: Simulator, workspace: Path) -> None:
    from tests.conftest import FAILING

    values = inputs(sim, revision=FAILING, environment="Acceptance")
    run = run_entrypoint(github_env(workspace, values), workspace)
    assert run.code == 1, run.stderr
    summary = summary_of(workspace)
    assert "**Failed while building the package.**" in summary
    assert "| Download | ` not reached ` |" in summary
    assert "| Deploy to ` Acceptance ` | ` skipped ` |" in summary


def test_summary_of_bad_input_names_the_inputs() -> None:
    from ci_step.errors import ConfigError

    result = StepResult()
    result.fail(ConfigError(["app-id is required"]))
    summary = render.step_summary(result)
    assert "**Failed while reading the inputs.**" in summary
    assert "| Build | ` not started ` |" in summary


@pytest.mark.parametrize(
    "url",
    [
        "http://calc.example",
        "javascript:alert(1)",
        "https://calc.example/a)b",
        "https://calc.example/[x](https://evil.example)",
        "https://calc.example <img src=x>",
        "https://user@evil.example",
        "https://calc.example/?next=https://evil.example",
    ],
)
def test_only_a_plain_https_url_becomes_a_link(url: str) -> None:
    result = StepResult(environment="Acceptance", environment_url=url, deployed=True)
    result.succeed()
    summary = render.step_summary(result)
    assert f"(` {url} `)" in summary  # shown as code
    outside = summary.replace(f"` {url} `", "")
    assert "](" not in outside
    assert "<img" not in outside


def test_a_plain_https_url_becomes_a_link() -> None:
    url = "https://calc-accp.mendixcloud.example:8443/index.html"
    result = StepResult(app_id="calc", environment="Acceptance", environment_url=url)
    result.deployed, result.deploy_result = True, "success"
    result.backup_id = "snap-1"
    result.succeed()
    summary = render.step_summary(result)
    assert "| Snapshot | ` snap-1 ` |" in summary
    assert f"([{url}]({url}))" in summary
    assert f"| ` success ` [{url}]({url}) |" in summary
