"""What the API answers is foreign text: bounded in size and depth, and checked before it
becomes an output a later job may read (a GitLab dotenv file is often sourced by a shell)."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from ci_step.simulator import BuildService, Fault, Simulator
from ci_step.simulator.environments import SimEnvironment
from ci_step.simulator.faults import parse_fault
from tests import ci_formats
from tests.conftest import API_KEY, USER, Run, gitlab_env, inputs, run_entrypoint, run_local

MIB = 1024 * 1024
LISTING = r"/apps/calc/packages$"
# What a shell that sources the dotenv file would run, were it written as given.
SHELL_VERSION = "1.0.4$(touch pwned)"
SHELL_URLS = [
    "https://calc.example.com/$(touch pwned)",
    "https://calc.example.com/`touch pwned`",
    "https://calc.example.com/;touch pwned",
    "https://calc.example.com/'x'",
    "https://calc.example.com/ x",
    "http://calc.example.com",
    "javascript:alert(1)",
    "https://",
    "https://user:pass@calc.example.com",
]


def gitlab_run(sim: Simulator, workspace: Path, *args: str, **values: str) -> Run:
    return run_entrypoint(gitlab_env(workspace, inputs(sim, **values)), workspace, *args)


def dotenv(run: Run) -> dict[str, str]:
    return ci_formats.gitlab_dotenv((run.workspace / "mendix-build.env").read_bytes())


def message(run: Run) -> str:
    error = run.result()["error"]
    assert isinstance(error, dict), run.stderr
    text = error["message"]
    assert isinstance(text, str)
    return text


# -- answers too deep or too large ---------------------------------------------------------


def test_an_answer_nested_too_deeply_is_an_api_error(sim: Simulator, workspace: Path) -> None:
    sim.add_fault(Fault("nested", method="GET", path=LISTING, size=300_000))
    run = run_local(sim, workspace, download="false")
    assert run.code == 5, run.stderr
    assert "Traceback" not in run.stderr
    assert message(run) == (
        "The Mendix API's answer (HTTP 200) while listing packages is JSON nested more than "
        "64 levels deep."
    )
    assert sim.requests("api", "POST") == []


def test_an_answer_nested_a_little_too_deeply_is_an_api_error(
    sim: Simulator, workspace: Path
) -> None:
    """Deep enough to walk into a recursion limit later, not in the parser."""
    sim.add_fault(Fault("nested", method="GET", path=LISTING, size=65))
    run = run_local(sim, workspace, download="false")
    assert run.code == 5, run.stderr
    assert "nested more than 64 levels deep" in message(run)


def test_an_error_answer_nested_too_deeply_still_gives_the_status(
    sim: Simulator, workspace: Path
) -> None:
    body = '{"error": ' * 5000 + "{}" + "}" * 5000
    sim.add_fault(Fault("status", status=400, method="GET", path=LISTING, body=body))
    run = run_local(sim, workspace, download="false")
    assert run.code == 5, run.stderr
    assert "Traceback" not in run.stderr
    assert "HTTP 400, no error details" in message(run)


def test_an_answer_over_4_mib_is_an_api_error_and_read_no_further(
    sim: Simulator, workspace: Path
) -> None:
    """Valid JSON, padded: only its size is wrong. The step stops reading at the limit and
    closes the connection, so the simulator cannot send it all (64 MiB is more than the
    socket buffers of both ends hold)."""
    size = 64 * MIB
    sim.add_fault(Fault("padded", method="GET", path=LISTING, size=size))
    run = run_local(sim, workspace, download="false")
    assert run.code == 5, run.stderr
    assert message(run) == (
        "The Mendix API's answer while listing packages is larger than 4.0 MiB; the step read "
        "no more of it."
    )
    (answer,) = [r for r in sim.requests("api", "GET", LISTING) if r.fault == "padded"]
    assert answer.answered.wait(30)
    assert answer.sent < size
    assert sim.requests("api", "POST") == []


def test_the_size_faults_answer_valid_json(sim: Simulator) -> None:
    """What the step refuses is only the size or the depth: both answers are JSON."""
    assert parse_fault("padded:size=4000,path=/packages$").size == 4000
    assert parse_fault("nested:size=3").kind == "nested"
    sim.add_fault(Fault("nested", size=3))
    sim.add_fault(Fault("padded", size=4000))
    url = f"{sim.base_url}/api/1/apps/calc/packages"
    headers = {"Mendix-Username": USER, "Mendix-ApiKey": API_KEY}
    nested, padded, plain = (requests.get(url, headers=headers, timeout=10) for _ in range(3))
    assert nested.json() == [[[]]]
    assert len(padded.content) == 4000
    assert padded.json() == plain.json()


def test_an_answer_under_the_limit_is_read_whole(sim: Simulator, workspace: Path) -> None:
    sim.add_fault(Fault("padded", method="GET", path=LISTING, size=3 * MIB))
    run = run_local(sim, workspace, download="false")
    assert run.code == 0, run.stderr
    (answer,) = [r for r in sim.requests("api", "GET", LISTING) if r.fault == "padded"]
    assert answer.answered.wait(30)
    assert answer.sent == 3 * MIB


# -- the version from the API becomes an output only as major.minor.patch -------------------


def assert_no_version(run: Run) -> None:
    assert dotenv(run)["MENDIX_VERSION"] == ""
    assert "$(" not in (run.workspace / "mendix-build.env").read_text("utf-8")
    (warning,) = [line for line in run.stderr.splitlines() if "gave the version" in line]
    assert "WARNING: The Mendix API gave the version '1.0.4$(touch pwned)" in warning
    assert warning.endswith("not major.minor.patch: the version output is left empty")
    assert not (run.workspace / "pwned").exists()


def test_deploy_leaves_a_version_that_is_not_major_minor_patch_out_of_the_outputs(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    package = service.seed_package("calc", SHELL_VERSION)
    run = gitlab_run(sim, workspace, package_id=package.package_id, environment="Acceptance")
    assert run.code == 0, run.stderr
    assert_no_version(run)
    assert dotenv(run)["MENDIX_PACKAGE_ID"] == package.package_id


def test_promotion_leaves_a_version_that_is_not_major_minor_patch_out_of_the_outputs(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    service.seed_package("calc", SHELL_VERSION, deployed_to="Acceptance")
    run = gitlab_run(sim, workspace, promote_from="Acceptance", environment="Test")
    assert run.code == 0, run.stderr
    assert_no_version(run)


@pytest.mark.parametrize("command", ["wait", "show"])
def test_package_commands_leave_a_version_that_is_not_major_minor_patch_out_of_the_outputs(
    sim: Simulator, service: BuildService, workspace: Path, command: str
) -> None:
    package = service.seed_package("calc", SHELL_VERSION)
    run = gitlab_run(sim, workspace, command, package.package_id)
    assert run.code == 0, run.stderr
    assert_no_version(run)


def test_download_command_leaves_a_version_that_is_not_major_minor_patch_out_of_the_outputs(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    package = service.seed_package("calc", SHELL_VERSION)
    run = gitlab_run(sim, workspace, "download", package.package_id)
    assert run.code == 5, run.stderr  # the file is not named after it either
    assert_no_version(run)


def test_a_version_with_a_fourth_number_is_an_output(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    package = service.seed_package("calc", "2.5.4.63")
    run = gitlab_run(sim, workspace, "wait", package.package_id)
    assert run.code == 0, run.stderr
    assert dotenv(run)["MENDIX_VERSION"] == "2.5.4.63"
    assert "WARNING" not in run.stderr


# -- the environment's URL becomes an output only as a plain https URL ----------------------


@pytest.mark.parametrize("url", SHELL_URLS)
def test_deploy_leaves_an_environment_url_that_is_not_plain_https_out_of_the_outputs(
    sim: Simulator, service: BuildService, workspace: Path, url: str
) -> None:
    service.apps["calc"].environments["Acceptance"].url = url
    package = service.seed_package("calc", "1.0.4")
    run = gitlab_run(sim, workspace, package_id=package.package_id, environment="Acceptance")
    assert run.code == 0, run.stderr
    assert dotenv(run)["MENDIX_ENVIRONMENT_URL"] == ""
    assert "calc.example.com" not in (workspace / "mendix-build.env").read_text("utf-8")
    assert "the environment-url output is left empty" in run.stderr
    assert not (workspace / "pwned").exists()


def test_a_plain_https_environment_url_is_an_output(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    url = "https://calc-accp.mendixcloud.com"
    service.apps["calc"].environments["Acceptance"].url = url
    package = service.seed_package("calc", "1.0.4")
    run = gitlab_run(sim, workspace, package_id=package.package_id, environment="Acceptance")
    assert run.code == 0, run.stderr
    assert dotenv(run)["MENDIX_ENVIRONMENT_URL"] == url
    assert dotenv(run)["MENDIX_VERSION"] == "1.0.4"
    assert "WARNING" not in run.stderr


def test_promotion_gives_the_version_with_its_revision(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    """An environment names its package's Version with the revision as a fourth part."""
    package = service.seed_package("calc", "1.0.4", deployed_to="Acceptance")
    run = gitlab_run(sim, workspace, promote_from="Acceptance", environment="Test")
    assert run.code == 0, run.stderr
    assert dotenv(run)["MENDIX_VERSION"] == f"1.0.4.{package.revision}"
    assert "WARNING" not in run.stderr


# -- the app's log tail ----------------------------------------------------------------------


@pytest.fixture
def failing_start(service: BuildService) -> SimEnvironment:
    """Acceptance runs 1.0.0; the next start fails, leaving lines in the day's log."""
    service.seed_package("calc", "1.0.0", deployed_to="Acceptance")
    environment = service.apps["calc"].environments["Acceptance"]
    environment.start_seconds, environment.start_error = 0.2, "START_FAILED"
    return environment


def test_a_secret_in_a_long_log_line_is_masked_before_the_line_is_shortened(
    sim: Simulator, failing_start: SimEnvironment, workspace: Path
) -> None:
    """Shortened first, the line would end in the key's first half, which no mask knows."""
    failing_start.log_tail = ["ERROR - Core: " + "x" * 446 + f"auth failed for key {API_KEY}"]
    run = run_local(sim, workspace, environment="Acceptance", download="false")
    assert run.code == 7, run.stderr
    tail = run.result()["error"]["log-tail"]  # type: ignore[index]
    assert tail[-1].startswith("ERROR - Core: xxx")
    assert tail[-1].endswith("auth failed for key ***")
    for place in (run.stderr, run.file("result.json")):
        assert API_KEY[:8] not in place


@pytest.mark.parametrize(("lines", "shown"), [("0", 0), ("3", 3), (None, 50)])
def test_log_tail_sets_how_many_lines_are_shown_and_0_reads_no_log(
    sim: Simulator, failing_start: SimEnvironment, workspace: Path, lines: str | None, shown: int
) -> None:
    values = {"environment": "Acceptance", "download": "false"}
    values |= {} if lines is None else {"log_tail": lines}
    run = run_local(sim, workspace, **values)
    assert run.code == 7, run.stderr
    error = run.result()["error"]
    assert isinstance(error, dict)
    assert len(error["log-tail"] or []) == shown
    asked = sim.requests("api", "GET", r"/logs/") + sim.requests("storage", "GET", r"/logs/")
    assert (asked == []) == (shown == 0)
    assert ("START_FAILED" in (error["log-tail"] or [""])[-1]) == (shown > 0)


@pytest.mark.parametrize("value", ["-1", "201", "many", "1.5", "9" * 5000])
def test_a_bad_log_tail_is_refused_before_any_request(
    sim: Simulator, workspace: Path, value: str
) -> None:
    run = run_local(sim, workspace, environment="Acceptance", log_tail=value)
    assert run.code == 2, run.stderr
    assert "MENDIX_LOG_TAIL is " in run.stderr
    assert "expected a number of lines from 0 (none) to 200" in run.stderr
    assert sim.requests() == []
