"""The app's unit tests after a deploy and as `mendix-build unit-tests`: every path against
the simulator's apps (the Unit Testing module's remote API), the entrypoint as each CI runs
it, the JUnit report read back by junitparser and as GitLab's and Jenkins' parsers take it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from junitparser import Failure, JUnitXml

from ci_step import files
from ci_step.domain.unit_tests import FailedTest
from ci_step.report import junit
from ci_step.simulator import BuildService, Fault, Simulator
from ci_step.simulator.environments import SimEnvironment
from ci_step.simulator.unit_tests import suites_of
from tests import ci_formats, junit_readers
from tests.conftest import (
    API_KEY,
    Run,
    StepProcess,
    app_on_test,
    base_env,
    github_env,
    gitlab_env,
    inputs,
    jenkins_env,
    mendix_env,
    run_entrypoint,
)
from tests.test_pipelines import outputs_of
from tests.test_server_text import INJECTED, runner_commands

PASSWORD = "ut-pw-7f3a9c51-secret"
FAILING = {
    "Orders.Test_Total": "One or more assertions failed",
    "Orders.Test_Discount": "Expected 10 but was 12",
}
EnvMaker = Callable[[Path, dict[str, str]], dict[str, str]]
CIS: dict[str, EnvMaker] = {"github": github_env, "gitlab": gitlab_env, "jenkins": jenkins_env}
START, STATUS = r"/unittests/start$", r"/unittests/status$"


@pytest.fixture
def test_env(sim: Simulator, service: BuildService) -> SimEnvironment:
    """calc's Test environment, its Url the app on the simulator, 12 tests that pass."""
    return app_on_test(sim, service, PASSWORD)


def deploy_values(sim: Simulator, **overrides: str) -> dict[str, str]:
    """A build deployed to Test, then its unit tests."""
    values = {
        "environment": "Test",
        "download": "false",
        "unit_tests": "true",
        "unit_tests_password": PASSWORD,
    }
    return inputs(sim, **(values | overrides))


def command_values(sim: Simulator, **overrides: str) -> dict[str, str]:
    """`mendix-build unit-tests` on Test, as the inputs of a run."""
    values = inputs(sim, **({"environment": "Test", "unit_tests_password": PASSWORD} | overrides))
    for name in ("revision", "version"):
        values.pop(name)
    return values


def local_env(sim: Simulator, workspace: Path, **values: str) -> dict[str, str]:
    """The environment of `mendix-build unit-tests` outside any CI, writing result.json."""
    values = {"result_file": "result.json"} | values
    return base_env(workspace.parent) | mendix_env(command_values(sim, **values))


def local(sim: Simulator, workspace: Path, *args: str, **values: str) -> Run:
    """The entrypoint outside any CI, writing result.json."""
    return run_entrypoint(local_env(sim, workspace, **values), workspace, *args)


def report(workspace: Path, name: str = "mendix-unit-tests.xml") -> str:
    return (workspace / name).read_text(encoding="utf-8")


def everything(run: Run) -> str:
    """What the step printed and every file it wrote."""
    files = "".join(
        p.read_text(encoding="utf-8", errors="replace")
        for p in run.workspace.parent.rglob("*")
        if p.is_file()
    )
    return run.stdout + run.stderr + files


def assert_no_secret(run: Run) -> None:
    masks = {f"::add-mask::{API_KEY}", f"::add-mask::{PASSWORD}"}
    shown = "\n".join(line for line in everything(run).splitlines() if line not in masks)
    assert PASSWORD not in shown
    assert API_KEY not in shown


def summary_of(workspace: Path) -> str:
    return (workspace.parent / "file_commands" / "step_summary").read_text("utf-8")


# -- after a deploy -------------------------------------------------------------------------


@pytest.mark.parametrize("ci", CIS)
def test_deploy_then_passing_unit_tests_report_counts_and_an_empty_junit_report(
    ci: str, sim: Simulator, test_env: SimEnvironment, workspace: Path
) -> None:
    run = run_entrypoint(CIS[ci](workspace, deploy_values(sim)), workspace)
    assert run.code == 0, run.stderr
    outputs = outputs_of(ci, run)
    assert (outputs["result"], outputs["deploy-result"], outputs["deployed"]) == (
        "success",
        "success",
        "true",
    )
    assert (outputs["tests"], outputs["test-failures"]) == ("12", "0")
    assert outputs["junit-file"] == "mendix-unit-tests.xml"
    assert (outputs["pipeline-run-id"], outputs["pipeline-status"]) == ("", "")
    (suite,) = JUnitXml.fromstring(report(workspace))
    assert (suite.tests, suite.failures, len(list(suite))) == (12, 0, 0)  # none invented
    assert junit_readers.gitlab_cases(report(workspace)) == []
    assert junit_readers.jenkins_suites(report(workspace)) == []  # `allowEmptyResults: true`
    assert "Unit tests passed on Test" in run.stderr
    assert test_env.unit_testing.starts == 1
    assert_no_secret(run)
    if ci == "github":
        summary = summary_of(workspace)
        assert "| Unit tests on ` Test ` | ` 12 passed ` |" in summary
        assert "| 12 | 0 |" in summary
        assert "| tests | ` 12 ` |" in summary
        assert "pipeline-run-id" not in summary


def test_unit_tests_start_only_after_the_deploy_and_send_the_password_to_the_app_only(
    sim: Simulator, test_env: SimEnvironment, workspace: Path
) -> None:
    run = run_entrypoint(gitlab_env(workspace, deploy_values(sim)), workspace)
    assert run.code == 0, run.stderr
    (start,) = sim.requests("app", "POST", START)
    deploy_start = sim.requests("api", "POST", r"/environments/Test/start$")[0]
    assert start.at > deploy_start.at
    assert start.path == "/calc/Test/unittests/start"
    assert json.loads(start.body) == {"password": PASSWORD}
    assert start.headers["content-type"] == "application/json"
    for request in sim.requests("app"):
        assert "mendix-apikey" not in request.headers
        assert "authorization" not in request.headers
        assert request.method == "POST"
    for request in sim.requests("api") + sim.requests("storage"):
        assert PASSWORD.encode() not in request.body
        assert PASSWORD not in json.dumps(request.headers)


@pytest.mark.parametrize("ci", CIS)
def test_failed_unit_tests_exit_8_after_a_deploy_that_succeeded(
    ci: str, sim: Simulator, test_env: SimEnvironment, workspace: Path
) -> None:
    test_env.unit_testing.suites = suites_of(12, FAILING)
    run = run_entrypoint(CIS[ci](workspace, deploy_values(sim)), workspace)
    assert run.code == 8, run.stderr
    outputs = outputs_of(ci, run)
    assert (outputs["result"], outputs["deploy-result"], outputs["deployed"]) == (
        "failure",
        "success",
        "true",
    )
    assert (outputs["tests"], outputs["test-failures"]) == ("12", "2")
    assert "2 of 12 unit tests failed on Test: Orders.Test_Total, Orders.Test_Discount." in (
        run.stderr
    )
    assert "failed_while=running the app's unit tests" in run.stderr
    assert_no_secret(run)
    if ci == "github":
        summary = summary_of(workspace)
        assert "### ❌ Mendix build and deploy: failure" in summary
        assert "| Unit tests on ` Test ` | ` 2 of 12 failed ` |" in summary
        assert "Orders.Test_Discount: Expected 10 but was 12 (step: Assert the result)" in summary
        (error,) = [line for line in run.stderr.splitlines() if line.startswith("::error")]
        assert "2 of 12 unit tests failed" in error


def test_the_junit_report_holds_each_failed_test_as_every_ci_reads_it(
    sim: Simulator, test_env: SimEnvironment, workspace: Path
) -> None:
    test_env.unit_testing.suites = suites_of(12, FAILING)
    run = run_entrypoint(jenkins_env(workspace, deploy_values(sim)), workspace)
    assert run.code == 8, run.stderr
    text = report(workspace)
    (suite,) = JUnitXml.fromstring(text)
    assert (suite.tests, suite.failures, suite.errors) == (12, 2, 0)
    assert suite.name == "Mendix unit tests: calc on Test"
    cases = {case.name: case for case in suite}
    assert set(cases) == {"Test_Total", "Test_Discount"}
    discount = cases["Test_Discount"]
    assert discount.classname == "Orders"
    (failure,) = discount.result
    assert isinstance(failure, Failure)
    assert failure.message == "Expected 10 but was 12"
    assert failure.text == "Expected 10 but was 12\n\nStep: Assert the result"

    gitlab = junit_readers.gitlab_cases(text)
    assert {(c.classname, c.name, c.status) for c in gitlab} == {
        ("Orders", "Test_Total", "failure"),
        ("Orders", "Test_Discount", "failure"),
    }
    assert all("Step: Assert the result" in (c.system_output or "") for c in gitlab)
    (jenkins,) = junit_readers.jenkins_suites(text)
    assert jenkins.name == "Mendix unit tests: calc on Test"
    assert jenkins.duration > 0
    assert {(c.class_name, c.name, c.error_details) for c in jenkins.cases} == {
        ("Orders", "Test_Total", "One or more assertions failed"),
        ("Orders", "Test_Discount", "Expected 10 but was 12"),
    }
    assert "passed tests are counted" in (jenkins.stdout or "")
    document = json.loads((workspace / "mendix-build.json").read_text("utf-8"))
    assert document["tests"] == 12
    assert document["test-failures"] == 2
    assert (
        "Orders.Test_Total: One or more assertions failed (step: Assert the result)"
        in (document["failed-tests"])
    )


def test_without_unit_tests_the_step_sends_nothing_to_the_app_and_writes_no_report(
    sim: Simulator, test_env: SimEnvironment, workspace: Path
) -> None:
    values = deploy_values(sim, unit_tests="false")
    run = run_entrypoint(gitlab_env(workspace, values), workspace)
    assert run.code == 0, run.stderr
    assert sim.requests("app") == []
    assert not (workspace / "mendix-unit-tests.xml").exists()
    dotenv = ci_formats.gitlab_dotenv((workspace / "mendix-build.env").read_bytes())
    assert "MENDIX_TESTS" not in dotenv  # a gate that did not run adds no variable


def test_a_failed_deploy_runs_no_unit_tests(
    sim: Simulator, test_env: SimEnvironment, workspace: Path
) -> None:
    test_env.start_error = "MISSING_CONSTANT"
    run = run_entrypoint(gitlab_env(workspace, deploy_values(sim)), workspace)
    assert run.code == 7, run.stderr
    assert sim.requests("app") == []


def test_promotion_then_unit_tests(
    sim: Simulator, service: BuildService, test_env: SimEnvironment, workspace: Path
) -> None:
    service.seed_package("calc", "1.4.0", deployed_to="Acceptance")
    values = deploy_values(sim, promote_from="Acceptance")
    run = run_entrypoint(gitlab_env(workspace, values), workspace, "deploy")
    assert run.code == 0, run.stderr
    assert len(sim.requests("app", "POST", START)) == 1
    assert "Unit tests passed on Test" in run.stderr


def test_dry_run_says_the_unit_tests_would_run_and_sends_nothing_to_the_app(
    sim: Simulator, test_env: SimEnvironment, workspace: Path
) -> None:
    run = run_entrypoint(gitlab_env(workspace, deploy_values(sim, dry_run="true")), workspace)
    assert run.code == 0, run.stderr
    assert "then run the app's unit tests" in run.stdout
    assert sim.requests("app") == []


# -- `mendix-build unit-tests` ----------------------------------------------------------------


def test_command_runs_the_tests_of_the_environment_it_names(
    sim: Simulator, test_env: SimEnvironment, workspace: Path
) -> None:
    run = local(sim, workspace, "unit-tests")
    assert run.code == 0, run.stderr
    document = run.result()
    assert (document["tests"], document["test-failures"]) == (12, 0)
    assert document["junit-file"] == "mendix-unit-tests.xml"
    assert document["deploy-result"] == "skipped"
    assert "12 unit tests passed on Test" in run.stderr
    assert [r.method for r in sim.requests("api")] == ["GET"]  # the environment's Url
    assert sim.requests("api", "POST") == []


def test_command_with_a_url_alone_asks_no_mendix_api(
    sim: Simulator, test_env: SimEnvironment, workspace: Path
) -> None:
    url = sim.app_url("calc", "Test")
    env = base_env(workspace.parent) | {
        "MENDIX_BASE_URL": sim.base_url,
        "MENDIX_UNIT_TESTS_PASSWORD": PASSWORD,
        "MENDIX_POLL_INTERVAL": "0.1",
    }
    run = run_entrypoint(env, workspace, "unit-tests", "--unit-tests-url", url)
    assert run.code == 0, run.stderr
    assert sim.requests("api") == []
    assert len(sim.requests("app", "POST", START)) == 1
    assert "12 unit tests passed on 127.0.0.1" in run.stderr


def test_command_github_summary_shows_the_counts_and_failed_tests(
    sim: Simulator, test_env: SimEnvironment, workspace: Path
) -> None:
    test_env.unit_testing.suites = suites_of(5, FAILING)
    values = command_values(sim)
    run = run_entrypoint(github_env(workspace, values), workspace, "unit-tests")
    assert run.code == 8, run.stderr
    summary = summary_of(workspace)
    assert summary.startswith("### ❌ Mendix unit tests: failure")
    assert "| 5 | 2 |" in summary
    assert "Orders.Test_Total: One or more assertions failed (step: Assert the result)" in summary
    assert "passed tests are counted, not named" in summary
    rows = [line.split("|")[1].strip() for line in summary.splitlines() if line.startswith("| ")]
    assert "package-id" not in rows
    assert {"tests", "test-failures", "junit-file"} <= set(rows)


def test_a_run_already_under_way_is_waited_for_then_this_one_starts(
    sim: Simulator, test_env: SimEnvironment, workspace: Path
) -> None:
    module = test_env.unit_testing
    module.seconds_per_test = 600.0  # the other run lasts until the test ends it
    url = sim.app_url("calc", "Test")
    other = requests.post(f"{url}/unittests/start", json={"password": PASSWORD}, timeout=5)
    assert other.status_code == 204
    step = StepProcess(local_env(sim, workspace), workspace, "unit-tests")
    step.wait_for("Another run of the unit tests is under way on Test; waiting for it")
    with sim.service.lock:  # the other run ends now; this one's tests are quick
        assert module.run is not None
        module.advance(module.run.ends_at)
        module.run.ends_at = sim.service.sim_now()
        module.seconds_per_test = 0.02
    run = step.finish()
    assert run.code == 0, run.stderr
    starts = sim.requests("app", "POST", START)
    assert [s.status for s in starts] == [204, 400, 204]
    statuses = sim.requests("app", "POST", STATUS)
    assert any(s.at < starts[2].at for s in statuses)  # the other run was watched first
    assert test_env.unit_testing.starts == 2


def test_a_wrong_password_exits_3_naming_the_input_as_given(
    sim: Simulator, test_env: SimEnvironment, workspace: Path
) -> None:
    run = local(sim, workspace, "unit-tests", "--unit-tests-password", "not-the-password")
    assert run.code == 3, run.stderr
    error = run.result()["error"]
    assert isinstance(error, dict)
    assert "refused the unit-test password (`--unit-tests-password`)" in error["message"]
    assert "Invalid password provided" in error["message"]
    assert "UnitTesting.RemoteApiPassword" in error["fix"]
    assert len(sim.requests("app")) == 1  # never retried


def test_an_app_without_the_remote_api_exits_5_explaining_the_module_setup(
    sim: Simulator, test_env: SimEnvironment, workspace: Path
) -> None:
    test_env.unit_testing.enabled = False
    run = local(sim, workspace, "unit-tests")
    assert run.code == 5, run.stderr
    error = run.result()["error"]
    assert isinstance(error, dict)
    assert "does not serve the Unit Testing module's remote API" in error["message"]
    assert "HTTP 404" in error["message"]
    for words in (
        "UnitTesting.Enabled",
        "UnitTesting.RemoteApiEnabled",
        "UnitTesting.RemoteApiPassword",
        "Startup microflow",
        "restart the app",
        "/unittests/ in the environment's request handlers",
    ):
        assert words in error["fix"], words


def test_a_closed_path_is_exit_3(sim: Simulator, test_env: SimEnvironment, workspace: Path) -> None:
    sim.add_fault(Fault("status", listener="app", path=START, status=403, body="Forbidden"))
    run = local(sim, workspace, "unit-tests")
    assert run.code == 3, run.stderr
    assert "request handlers" in run.stderr


def test_an_app_restarted_during_the_run_is_reported_as_a_lost_run(
    sim: Simulator, test_env: SimEnvironment, workspace: Path
) -> None:
    test_env.unit_testing.seconds_per_test = 60.0  # the run lasts until the restart
    step = StepProcess(local_env(sim, workspace), workspace, "unit-tests")
    step.wait_for("Unit tests started on Test")
    with sim.service.lock:
        test_env.unit_testing.restart()  # what a restart of the app does to the module
    run = step.finish()
    assert run.code == 5, run.stderr
    assert "'No testrun was started yet' while its unit tests ran: the app restarted" in (
        run.stderr
    )


def test_the_wait_ends_at_unit_tests_timeout_and_the_run_goes_on(
    sim: Simulator, test_env: SimEnvironment, workspace: Path
) -> None:
    test_env.unit_testing.seconds_per_test = 60.0
    run = local(sim, workspace, "unit-tests", "--unit-tests-timeout", "1s", "--timeout", "30s")
    assert run.code == 4, run.stderr
    document = run.result()
    assert document["result"] == "timeout"
    error = document["error"]
    assert isinstance(error, dict)
    assert (
        "did not complete within 1s (`--unit-tests-timeout`, or what was left of"
        in (error["message"])
    )
    assert "the run goes on in the app" in error["message"]
    assert not (workspace / "mendix-unit-tests.xml").exists()


def test_a_status_answer_lost_to_the_gateway_is_read_again(
    sim: Simulator, test_env: SimEnvironment, workspace: Path
) -> None:
    sim.add_fault(Fault("status", listener="app", path=STATUS, status=503, times=2))
    run = local(sim, workspace, "unit-tests")
    assert run.code == 0, run.stderr
    assert "retrying" in run.stderr
    assert [r.status for r in sim.requests("app", "POST", STATUS)][:2] == [503, 503]


def test_a_lost_start_answer_takes_the_run_under_way(
    sim: Simulator, test_env: SimEnvironment, workspace: Path
) -> None:
    test_env.unit_testing.seconds_per_test = 0.1
    sim.add_fault(Fault("reset", listener="app", path=START, process=True))
    run = local(sim, workspace, "unit-tests")
    assert run.code == 0, run.stderr
    assert "a run is under way, taken as this one" in run.stderr
    assert len(sim.requests("app", "POST", START)) == 1
    assert test_env.unit_testing.starts == 1


def test_a_stopped_environment_has_no_app_to_test(
    sim: Simulator, test_env: SimEnvironment, workspace: Path
) -> None:
    test_env.status = "Stopped"
    run = local(sim, workspace, "unit-tests", "--timeout", "3s")
    assert run.code == 5, run.stderr
    assert "HTTP 503" in run.stderr


def test_an_environment_url_that_is_not_plain_https_gets_no_password(
    sim: Simulator, test_env: SimEnvironment, workspace: Path
) -> None:
    test_env.url = "http://calc-test.mendixcloud.example"
    run = local(sim, workspace, "unit-tests")
    assert run.code == 5, run.stderr
    error = run.result()["error"]
    assert isinstance(error, dict)
    assert (
        "gave environment Test the URL 'http://calc-test.mendixcloud.example'" in (error["message"])
    )
    assert "set `MENDIX_UNIT_TESTS_URL` to the app's https URL" in error["fix"]
    assert sim.requests("app") == []


def test_the_report_goes_where_junit_file_says_inside_the_workspace(
    sim: Simulator, test_env: SimEnvironment, workspace: Path
) -> None:
    run = local(sim, workspace, "unit-tests", "--junit-file", "reports/unit/calc.xml")
    assert run.code == 0, run.stderr
    assert run.result()["junit-file"] == "reports/unit/calc.xml"
    path = workspace / "reports" / "unit" / "calc.xml"
    assert path.stat().st_mode & 0o777 == files.plain_mode()
    assert JUnitXml.fromfile(str(path))
    assert [p.name for p in path.parent.iterdir()] == ["calc.xml"]  # no temporary file left


# -- text from the app is data ------------------------------------------------------------------


def test_foreign_test_names_errors_and_steps_never_break_the_report_the_log_or_a_secret(
    sim: Simulator, test_env: SimEnvironment, workspace: Path
) -> None:
    hostile = {
        f"Evil.Test_{INJECTED[:40]}": f"{INJECTED}\x00\x01\x1b[31m\ud800 lone ]]> </failure>"
        f" <x> & {PASSWORD}",
        "Plain.\ufffe\uffff": "",
    }
    test_env.unit_testing.suites = suites_of(6, hostile)
    test_env.unit_testing.suites[0].tests[0].step = f"step\r::error::x\x7f{PASSWORD}"
    values = command_values(sim)
    run = run_entrypoint(github_env(workspace, values), workspace, "unit-tests")
    assert run.code == 8, run.stderr
    text = report(workspace)
    assert PASSWORD not in text
    junit_readers.strict(text)  # a character XML 1.0 cannot hold would fail here
    (suite,) = JUnitXml.fromstring(text)
    assert (suite.tests, suite.failures) == (6, 2)
    assert len(list(suite)) == 2
    assert len(junit_readers.gitlab_cases(text)) == 2
    (jenkins,) = junit_readers.jenkins_suites(text)
    assert len(jenkins.cases) == 2
    for case in jenkins.cases:
        details = case.error_details or ""
        assert not any(ord(c) < 32 for c in details)
    stack = "".join(case.error_stack_trace or "" for case in jenkins.cases)
    assert "\x1b" not in stack
    assert "***" in stack
    assert_no_secret(run)
    assert runner_commands(run.stdout) == []
    shown = [line for line in run.stderr.splitlines() if not line.startswith("::add-mask::")]
    assert [c for c in runner_commands("\n".join(shown)) if not c.startswith("::error ")] == []
    summary = summary_of(workspace)
    assert "\x1b" not in summary
    assert PASSWORD not in summary


def test_the_report_holds_whatever_text_it_is_given_and_still_parses() -> None:
    """The report's own guarantee, whatever reaches it: characters XML 1.0 cannot hold
    (control characters, lone surrogates, U+FFFE) are replaced, markup is escaped, and no
    line of it starts a CI command when a job prints it."""
    raw = "a\x00b\x01c\x1bd\ud800e\udfff\ufffe\uffff ]]> </failure> & <x> ##vso[task.x]y"
    failed = [FailedTest(f"Mod.{raw}", raw, raw)]
    text = junit.render(junit.Report(f"suite {raw}", 3, 1, None, failed))
    junit_readers.strict(text)
    (suite,) = JUnitXml.fromstring(text)
    (case,) = suite
    assert case.name.startswith("a b c d e")
    (failure,) = case.result
    assert "]]> </failure> & <x>" in failure.text
    assert "##vso[" not in text
    (gitlab,) = junit_readers.gitlab_cases(text)
    assert gitlab.status == "failure"
    (jenkins,) = junit_readers.jenkins_suites(text)
    assert jenkins.cases[0].class_name == "Mod"


# -- inputs --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ci", "values", "args", "words"),
    [
        (
            "github",
            {"environment": ""},
            (),
            "`with: unit-tests:` runs the app's unit tests after a deploy: set with: environment:",
        ),
        (
            "gitlab",
            {"unit_tests_password": ""},
            (),
            "unit-tests-password is required: set MENDIX_UNIT_TESTS_PASSWORD",
        ),
        (
            "gitlab",
            {"base_url": "https://deploy.mendix.com", "unit_tests_url": "http://127.0.0.1:1/a"},
            (),
            "MENDIX_UNIT_TESTS_URL is plain http: the unit-test password goes over plain http "
            "only to a loopback address",
        ),
        (
            "jenkins",
            {"unit_tests_url": "http://calc-test.example.com"},
            (),
            "MENDIX_UNIT_TESTS_URL is 'http://calc-test.example.com'; plain http would send the "
            "unit-test password unencrypted",
        ),
        ("jenkins", {"junit_file": "../out.xml"}, (), "MENDIX_JUNIT_FILE is '../out.xml', outside"),
        ("gitlab", {"unit_tests_timeout": "soon"}, (), "MENDIX_UNIT_TESTS_TIMEOUT is 'soon'"),
        (
            "github",
            {"unit_tests_password": "two\nlines"},
            (),
            "`with: unit-tests-password:` holds line breaks",
        ),
    ],
)
def test_bad_unit_test_inputs_exit_2_naming_the_input_before_any_request(
    ci: str,
    values: dict[str, str],
    args: tuple[str, ...],
    words: str,
    sim: Simulator,
    test_env: SimEnvironment,
    workspace: Path,
) -> None:
    run = run_entrypoint(CIS[ci](workspace, deploy_values(sim, **values)), workspace, *args)
    assert run.code == 2, run.stderr
    assert words in run.stderr
    assert sim.requests() == []
    assert "two\nlines" not in run.stderr


def test_the_command_needs_an_environment_or_a_url(sim: Simulator, workspace: Path) -> None:
    env = base_env(workspace.parent) | {"MENDIX_UNIT_TESTS_PASSWORD": PASSWORD}
    run = run_entrypoint(env, workspace, "unit-tests")
    assert run.code == 2, run.stderr
    assert "`mendix-build unit-tests` needs MENDIX_ENVIRONMENT" in run.stderr
    assert "MENDIX_UNIT_TESTS_URL" in run.stderr
    assert "api-key is required" not in run.stderr
    run = run_entrypoint(env, workspace, "unit-tests", "--environment", "Test")
    assert run.code == 2, run.stderr
    assert "api-key is required" in run.stderr  # to read the environment's Url
    assert sim.requests() == []


def test_a_config_file_may_not_hold_the_password_nor_send_it_elsewhere(
    sim: Simulator, test_env: SimEnvironment, workspace: Path
) -> None:
    (workspace / "mendix.yml").write_text(
        f"unit-tests-password: {PASSWORD}\nunit-tests-url: https://collector.example.com\n",
        encoding="utf-8",
    )
    values = command_values(sim, config="mendix.yml")
    run = run_entrypoint(gitlab_env(workspace, values), workspace, "unit-tests")
    assert run.code == 2, run.stderr
    assert "'unit-tests-password' in config file mendix.yml: secrets do not belong" in run.stderr
    assert "(MENDIX_UNIT_TESTS_PASSWORD from a masked CI variable)" in run.stderr
    assert "'unit-tests-url' in config file mendix.yml is not an https URL of mendix.com" in (
        run.stderr
    )
    assert sim.requests() == []
    assert PASSWORD not in run.stderr


def test_exit_code_8_is_documented_beside_the_others() -> None:
    root = Path(__file__).resolve().parent.parent
    action = (root / "action.yml").read_text("utf-8")
    assert "#   8: the app's unit tests failed" in action
    page = (root / "docs" / "unit-tests.md").read_text("utf-8")
    assert "| 8 | the app's unit tests failed (the deploy itself succeeded" in page
    assert "does **not**\ngive the passed tests" in page  # what the report cannot show
