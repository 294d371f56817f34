"""Deploy after the build (Deploy API v1): every path and error, against the simulator."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from ci_step.simulator import BuildService, Fault, Simulator
from ci_step.simulator.environments import SimEnvironment
from tests import ci_formats
from tests.conftest import (
    API_KEY,
    ENTRYPOINT,
    FAILING,
    USER,
    Run,
    StepProcess,
    base_env,
    github_env,
    gitlab_env,
    inputs,
    mendix_env,
    run_entrypoint,
    run_local,
    signal_entrypoint,
    simulate_inputs,
    simulate_process,
    simulating,
)

ENV_PATH = r"/environments/"


@pytest.fixture
def acceptance(service: BuildService) -> SimEnvironment:
    environment = service.apps["calc"].environments["Acceptance"]
    environment.start_seconds = 0.3
    return environment


def deploy_calls(sim: Simulator) -> list[str]:
    """'METHOD last-path-part' of each Deploy API call, in order."""
    calls = []
    for request in sim.requests("api", path=ENV_PATH):
        tail = request.path.split("/environments/", 1)[1].split("/")
        action = tail[1] if len(tail) > 1 else "environment"
        calls.append(f"{request.method} {action}")
    return calls


def builds(sim: Simulator) -> int:
    return len(sim.requests("api", "POST", r"/packages$"))


def assert_deploy_failed(run: Run, code: str, fix_words: str) -> dict[str, object]:
    assert run.code == 7, run.stderr
    result = run.result()
    assert result["result"] == "failure"
    assert result["status"] == "Succeeded"
    assert result["deploy-result"] == "failure"
    assert result["deployed"] is False
    error = result["error"]
    assert isinstance(error, dict)
    assert error["error-code"] == code
    assert code in str(error["message"])
    assert fix_words in str(error["fix"])
    assert "Traceback" not in run.stderr
    return result


def test_build_then_deploy_stops_transports_starts_in_that_order(
    sim: Simulator, service: BuildService, acceptance: SimEnvironment, workspace: Path
) -> None:
    run = run_local(sim, workspace, environment="Acceptance")
    assert run.code == 0, run.stderr
    result = run.result()
    (package,) = service.apps["calc"].packages
    assert result["package-id"] == package.package_id
    assert (result["environment"], result["deployed"], result["deploy-result"]) == (
        "Acceptance",
        True,
        "success",
    )
    assert result["environment-url"] == "https://calc-accp.mendixcloud.example"
    assert (workspace / "calc-1.2.3.mda").exists()
    calls = deploy_calls(sim)
    # read before the build; then read, stop, wait, transport, start, poll, read
    assert calls[:2] == ["GET environment", "GET environment"]
    assert calls.index("POST stop") < calls.index("POST transport") < calls.index("POST start")
    assert calls[-2:] == ["GET start", "GET environment"]
    assert calls.count("POST transport") == calls.count("POST start") == 1
    first_env_read = sim.requests("api", "GET", ENV_PATH)[0]
    assert first_env_read.at < sim.requests("api", "POST", r"/packages$")[0].at
    (start,) = sim.requests("api", "POST", r"/start$")
    assert json.loads(start.body) == {"AutoSyncDb": True}
    (transport,) = sim.requests("api", "POST", r"/transport$")
    assert json.loads(transport.body) == {"PackageId": package.package_id}
    assert acceptance.package_id == package.package_id
    assert acceptance.current_status(service.sim_now()) == "Running"
    assert acceptance.model_version.startswith("1.2.3.")


def test_a_stopped_environment_is_not_stopped_again(
    sim: Simulator, acceptance: SimEnvironment, workspace: Path
) -> None:
    acceptance.status = "Stopped"
    run = run_local(sim, workspace, environment="acceptance", download="false")
    assert run.code == 0, run.stderr
    assert "POST stop" not in deploy_calls(sim)
    assert run.result()["deploy-result"] == "success"


def test_slow_stop_is_waited_for_before_the_transport(
    sim: Simulator, acceptance: SimEnvironment, workspace: Path
) -> None:
    acceptance.stop_seconds = 0.5
    run = run_local(sim, workspace, environment="Acceptance", download="false")
    assert run.code == 0, run.stderr
    (stop,) = sim.requests("api", "POST", r"/stop$")
    (transport,) = sim.requests("api", "POST", r"/transport$")
    assert transport.at - stop.at >= 0.5


def test_package_still_processing_is_transported_again(
    sim: Simulator, acceptance: SimEnvironment, workspace: Path
) -> None:
    acceptance.processing = 2
    run = run_local(sim, workspace, environment="Acceptance", download="false")
    assert run.code == 0, run.stderr
    transports = sim.requests("api", "POST", r"/transport$")
    assert len(transports) == 3
    assert "still being processed" in run.stderr


@pytest.mark.parametrize(
    ("code", "fix_words"),
    [
        ("DB_SYNC_FAILED", "database"),
        ("MISSING_CONSTANT", "constant"),
        ("STARTUP_ACTION_FAILED", "after-startup microflow"),
        ("START_FAILED", "environment log"),
    ],
)
def test_start_failures_exit_7_with_code_and_fix(
    code: str,
    fix_words: str,
    sim: Simulator,
    acceptance: SimEnvironment,
    workspace: Path,
) -> None:
    acceptance.start_error = code
    run = run_local(sim, workspace, environment="Acceptance")
    assert_deploy_failed(run, code, fix_words)
    # the 500 carrying the verdict ends the deploy at once: no retry, no change after it
    # (only reads follow: the day's log, the state the environment is left in)
    assert "retrying" not in run.stderr
    calls = deploy_calls(sim)
    after = calls[len(calls) - calls[::-1].index("GET start") :]
    assert all(call.startswith("GET ") for call in after), calls
    assert (workspace / "calc-1.2.3.mda").exists()  # the package itself is fine


@pytest.mark.parametrize(
    ("code", "fix_words"),
    [("INVALID_RUNTIME_VERSION", "stack"), ("TRANSPORT_NOT_ALLOWED", "Transport Rights")],
)
def test_transport_refusals_exit_7_with_code_and_fix(
    code: str, fix_words: str, sim: Simulator, acceptance: SimEnvironment, workspace: Path
) -> None:
    acceptance.transport_error = code
    run = run_local(sim, workspace, environment="Acceptance", download="false")
    assert_deploy_failed(run, code, fix_words)
    assert "POST start" not in deploy_calls(sim)


def test_without_auto_sync_db_the_start_says_to_set_it(
    sim: Simulator, acceptance: SimEnvironment, workspace: Path
) -> None:
    run = run_local(
        sim, workspace, environment="Acceptance", download="false", auto_sync_db="false"
    )
    assert_deploy_failed(run, "INVALID_DB_STRUCTURE", "set `MENDIX_AUTO_SYNC_DB=true`")
    (start,) = sim.requests("api", "POST", r"/start$")
    assert json.loads(start.body) == {"AutoSyncDb": False}


def test_stop_failure_exits_7(sim: Simulator, acceptance: SimEnvironment, workspace: Path) -> None:
    acceptance.stop_error = True
    run = run_local(sim, workspace, environment="Acceptance", download="false")
    assert_deploy_failed(run, "STOP_FAILED", "stop the environment")
    assert "POST transport" not in deploy_calls(sim)


@pytest.mark.parametrize("code", ["STOP_FAILED", "TRANSPORT_NOT_ALLOWED", "START_FAILED"])
def test_a_deploy_error_for_one_time_fails_one_deploy(
    code: str, sim: Simulator, acceptance: SimEnvironment, workspace: Path
) -> None:
    if code == "STOP_FAILED":
        acceptance.stop_error, acceptance.stop_error_times = True, 1
    elif code == "TRANSPORT_NOT_ALLOWED":
        acceptance.transport_error, acceptance.transport_error_times = code, 1
    else:
        acceptance.start_error, acceptance.start_error_times = code, 1
    first = run_local(sim, workspace, environment="Acceptance", download="false")
    assert_deploy_failed(first, code, "")
    again = run_local(sim, workspace, environment="Acceptance", download="false")
    assert again.code == 0, again.stderr
    assert acceptance.status == "Running"


def test_production_needs_allow_production_and_sends_nothing(
    sim: Simulator, workspace: Path
) -> None:
    run = run_local(sim, workspace, environment="Production")
    assert run.code == 2
    assert "MENDIX_ENVIRONMENT" in run.stderr
    assert "needs `MENDIX_ALLOW_PRODUCTION=true`" in run.stderr
    assert sim.requests() == []
    assert run.result()["result"] == "error"


def test_flexible_environment_flagged_production_is_refused_before_the_build(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    service.apps["calc"].environments["Live EU"] = SimEnvironment("Live EU", production=True)
    run = run_local(sim, workspace, environment="Live EU")
    assert run.code == 2
    assert "production environment" in run.stderr
    assert "set `MENDIX_ALLOW_PRODUCTION=true` to deploy to it" in run.stderr
    assert builds(sim) == 0
    assert [r.method for r in sim.requests("api", path=ENV_PATH)] == ["GET"]
    assert sim.requests("api", path="/environments/Live%20EU")


def test_production_with_allow_production_deploys(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    service.apps["calc"].environments["Production"].start_seconds = 0.2
    run = run_local(
        sim, workspace, environment="Production", allow_production="true", download="false"
    )
    assert run.code == 0, run.stderr
    assert run.result()["deployed"] is True


def test_unknown_environment_exits_5_before_building(sim: Simulator, workspace: Path) -> None:
    run = run_local(sim, workspace, environment="Acceptence")
    assert run.code == 5
    assert "ENVIRONMENT_NOT_FOUND" in run.stderr
    assert builds(sim) == 0
    assert run.result()["deploy-result"] == "skipped"


def test_failed_build_is_not_deployed(sim: Simulator, workspace: Path) -> None:
    run = run_local(sim, workspace, environment="Acceptance", revision=FAILING)
    assert run.code == 1
    result = run.result()
    assert (result["environment"], result["deploy-result"], result["deployed"]) == (
        "Acceptance",
        "skipped",
        False,
    )
    assert "POST transport" not in deploy_calls(sim)


def test_package_id_deploys_without_building_or_downloading(
    sim: Simulator, service: BuildService, acceptance: SimEnvironment, workspace: Path
) -> None:
    package = service.seed_package("calc", "3.0.0")
    run = run_local(
        sim, workspace, environment="Acceptance", package_id=package.package_id, version=""
    )
    assert run.code == 0, run.stderr
    assert builds(sim) == 0
    assert sim.requests("storage") == []
    assert acceptance.package_id == package.package_id
    result = run.result()
    assert (result["package-id"], result["version"]) == (package.package_id, "3.0.0")


def test_package_id_with_download_reads_the_package_and_its_location_once(
    sim: Simulator, service: BuildService, acceptance: SimEnvironment, workspace: Path
) -> None:
    package = service.seed_package("calc", "3.0.0")
    run = run_local(
        sim,
        workspace,
        environment="Acceptance",
        package_id=package.package_id,
        version="",
        download="true",
    )
    assert run.code == 0, run.stderr
    reads = sim.requests("api", "GET", path=rf"/packages/{package.package_id}$")
    assert [r.query for r in reads] == [{"url": "true"}]
    assert (workspace / "calc-3.0.0.mda").is_file()


def test_package_id_of_a_failed_build_exits_1(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    package = service.seed_package("calc", "3.0.0", "Failed")
    run = run_local(sim, workspace, environment="Acceptance", package_id=package.package_id)
    assert run.code == 1
    assert "POST transport" not in deploy_calls(sim)


def test_package_id_without_environment_exits_2(sim: Simulator, workspace: Path) -> None:
    run = run_local(sim, workspace, package_id="b3d14e53-2654-4534-b374-9179a69ef3cf")
    assert run.code == 2
    assert "MENDIX_PACKAGE_ID" in run.stderr
    assert "set MENDIX_ENVIRONMENT too" in run.stderr
    assert sim.requests() == []


def test_deploy_subcommand(
    sim: Simulator, service: BuildService, acceptance: SimEnvironment, workspace: Path
) -> None:
    package = service.seed_package("calc", "3.1.0")
    run = run_local(
        sim,
        workspace,
        "deploy",
        package.package_id,
        environment="Acceptance",
        revision="",
        version="",
    )
    assert run.code == 0, run.stderr
    assert acceptance.package_id == package.package_id
    assert run.result()["deploy-result"] == "success"


def test_deploy_subcommand_needs_a_package_and_an_environment(
    sim: Simulator, workspace: Path
) -> None:
    run = run_local(sim, workspace, "deploy", revision="", version="")
    assert run.code == 2
    assert "package-id is required" in run.stderr
    assert "environment is required" in run.stderr
    assert sim.requests() == []


def test_deploy_dry_run_changes_nothing(
    sim: Simulator, service: BuildService, acceptance: SimEnvironment, workspace: Path
) -> None:
    package = service.seed_package("calc", "3.2.0")
    run = run_local(
        sim, workspace, "deploy", package.package_id, environment="Acceptance", dry_run="true"
    )
    assert run.code == 0, run.stderr
    assert "would be deployed to Acceptance" in run.stdout
    assert {r.method for r in sim.requests()} == {"GET"}
    assert acceptance.package_id == ""


def test_start_timeout_exits_4(sim: Simulator, acceptance: SimEnvironment, workspace: Path) -> None:
    acceptance.start_seconds = 60
    run = run_local(sim, workspace, environment="Acceptance", download="false", start_timeout="1s")
    assert run.code == 4
    result = run.result()
    assert (result["result"], result["deploy-result"]) == ("timeout", "timeout")
    assert "Fix: raise `MENDIX_START_TIMEOUT` or `MENDIX_TIMEOUT`" in run.stderr


def test_gateway_errors_and_resets_on_deploy_calls_are_retried(
    sim: Simulator, acceptance: SimEnvironment, workspace: Path
) -> None:
    faults = [
        sim.add_fault(Fault("status", method="GET", path=ENV_PATH, status=502, times=2)),
        sim.add_fault(Fault("reset", method="POST", path=r"/stop$")),
        sim.add_fault(Fault("status", method="POST", path=r"/transport$", status=503)),
        sim.add_fault(Fault("status", method="GET", path=r"/start/", status=500)),
    ]
    run = run_local(sim, workspace, environment="Acceptance", download="false")
    assert run.code == 0, run.stderr
    assert [fault.times for fault in faults] == [0, 0, 0, 0]  # every fault was met
    assert run.result()["deployed"] is True
    assert len(sim.requests("api", "POST", r"/start$")) == 1


def test_lost_start_answer_never_starts_twice(
    sim: Simulator, acceptance: SimEnvironment, workspace: Path
) -> None:
    sim.add_fault(Fault("reset", method="POST", path=r"/start$", process=True))
    run = run_local(sim, workspace, environment="Acceptance", download="false")
    assert run.code == 0, run.stderr
    assert len(acceptance.jobs) == 1
    assert "already under way" in run.stderr


def test_github_summary_shows_both_phases(
    sim: Simulator, acceptance: SimEnvironment, workspace: Path
) -> None:
    values = inputs(sim, environment="Acceptance", download="false")
    run = run_entrypoint(github_env(workspace, values), workspace)
    assert run.code == 0, run.stderr
    commands = workspace.parent / "file_commands"
    outputs = ci_formats.github_file_command((commands / "set_output").read_text("utf-8"))
    assert outputs["deploy-result"] == "success"
    assert outputs["deployed"] == "true"
    summary = (commands / "step_summary").read_text("utf-8")
    assert "Mendix build and deploy: success" in summary
    assert "| Build | ` Succeeded ` |" in summary
    url = "https://calc-accp.mendixcloud.example"
    assert f"| Deploy to ` Acceptance ` | ` success ` [{url}]({url}) |" in summary


def test_gitlab_dotenv_carries_the_deploy_outputs(
    sim: Simulator, acceptance: SimEnvironment, workspace: Path
) -> None:
    acceptance.start_error = "MISSING_CONSTANT"
    values = inputs(sim, environment="Acceptance", download="false")
    run = run_entrypoint(gitlab_env(workspace, values), workspace)
    assert run.code == 7
    report = ci_formats.gitlab_dotenv((workspace / "mendix-build.env").read_bytes())
    assert report["MENDIX_DEPLOY_RESULT"] == "failure"
    assert report["MENDIX_ENVIRONMENT"] == "Acceptance"
    assert report["MENDIX_DEPLOYED"] == "false"


def test_simulated_environment_follows_the_reference(sim: Simulator, service: BuildService) -> None:
    auth = {"Mendix-Username": USER, "Mendix-ApiKey": API_KEY}
    base = f"{sim.base_url}/api/1/apps/calc/environments"
    package = service.seed_package("calc", "4.0.0")
    test_env = service.apps["calc"].environments["Test"]
    test_env.start_seconds = 3600  # Starting until the test ends the job below

    def call(method: str, path: str, body: object = None) -> requests.Response:
        return requests.request(method, base + path, headers=auth, json=body, timeout=10)

    listed = call("GET", "").json()
    assert [e["Mode"] for e in listed] == ["Test", "Acceptance", "Production"]
    assert set(listed[0]) == {
        "Status",
        "EnvironmentId",
        "Mode",
        "Url",
        "ModelVersion",
        "MendixVersion",
        "Production",
    }
    running = call("POST", "/Test/transport", {"PackageId": package.package_id})
    assert (running.status_code, running.json()["errorCode"]) == (403, "APP_IS_RUNNING")
    assert call("POST", "/Test/start", {"AutoSyncDb": True}).json()["errorCode"] == (
        "ALREADY_STARTED"
    )
    assert call("POST", "/Test/stop", {}).status_code == 200
    assert call("GET", "/Test").json()["Status"] == "Stopped"
    assert call("GET", "/Test/package").json()["errorCode"] == "PACKAGE_NOT_FOUND"
    assert call("POST", "/test/transport", {"PackageId": package.package_id}).status_code == 200
    assert call("GET", "/Test/package").json()["PackageId"] == package.package_id
    job = call("POST", "/Test/start", {"AutoSyncDb": True}).json()["JobId"]
    again = call("POST", "/Test/start", {"AutoSyncDb": True})
    assert (again.status_code, again.json()["errorCode"]) == (
        500,
        "APP_ALREADY_HAS_A_STARTING_JOB",
    )
    assert call("GET", f"/Test/start/{job}").json() == {"Status": "Starting"}
    with service.lock:
        test_env.jobs[job].ends_at = 0.0
    assert call("GET", f"/Test/start/{job}").json() == {"Status": "Started"}
    assert call("GET", "/Test").json()["ModelVersion"].startswith("4.0.0.")
    assert call("GET", "/Test/start/nope").json()["errorCode"] == "NO_SUCH_STARTJOB"
    assert call("GET", "/Nowhere").json()["errorCode"] == "ENVIRONMENT_NOT_FOUND"


def test_second_run_with_the_same_inputs_deploys_the_package_it_built(
    sim: Simulator, service: BuildService, acceptance: SimEnvironment, workspace: Path
) -> None:
    """The GitHub and Jenkins examples: a build job, then a deploy job with the same inputs."""
    assert run_local(sim, workspace).code == 0
    run = run_local(sim, workspace, environment="Acceptance", download="false")
    assert run.code == 0, run.stderr
    (package,) = service.apps["calc"].packages
    assert builds(sim) == 1
    assert run.result()["reused"] is True
    assert acceptance.package_id == package.package_id


def test_gitlab_deploy_job_takes_the_package_from_the_build_jobs_dotenv(
    sim: Simulator, service: BuildService, acceptance: SimEnvironment, workspace: Path
) -> None:
    """The GitLab example: dotenv variables outrank job variables, so the empty
    MENDIX_ENVIRONMENT of the build's report must not hide the --environment flag."""
    build = run_entrypoint(gitlab_env(workspace, inputs(sim)), workspace)
    assert build.code == 0, build.stderr
    report = ci_formats.gitlab_dotenv((workspace / "mendix-build.env").read_bytes())
    assert report["MENDIX_ENVIRONMENT"] == ""
    deploy_env = gitlab_env(workspace, inputs(sim, revision="", version="")) | report
    run = run_entrypoint(
        deploy_env, workspace, "mendix-build", "deploy", "--environment", "Acceptance"
    )
    assert run.code == 0, run.stderr
    (package,) = service.apps["calc"].packages
    assert acceptance.package_id == package.package_id
    assert builds(sim) == 1
    after = ci_formats.gitlab_dotenv((workspace / "mendix-build.env").read_bytes())
    assert after["MENDIX_ENVIRONMENT_URL"] == "https://calc-accp.mendixcloud.example"
    assert after["MENDIX_DEPLOY_RESULT"] == "success"


def test_sigterm_while_starting_says_cancelled(
    sim: Simulator, acceptance: SimEnvironment, workspace: Path
) -> None:
    acceptance.start_seconds = 60
    env = gitlab_env(workspace, inputs(sim, environment="Acceptance", download="false"))
    code, stderr, _ = signal_entrypoint(env, workspace, "Start job created", signal.SIGTERM)
    assert code == 143, stderr
    report = ci_formats.gitlab_dotenv((workspace / "mendix-build.env").read_bytes())
    assert report["MENDIX_RESULT"] == "cancelled"
    assert report["MENDIX_DEPLOY_RESULT"] == "cancelled"
    assert report["MENDIX_DEPLOYED"] == "false"


def test_simulate_command_injects_deploy_errors(workspace: Path) -> None:
    options = ("--queued", "0", "--building", "0.2", "--uploading", "0")
    deploy = ("--deploy-error", "MISSING_CONSTANT", "--start-seconds", "0.2")
    with simulate_process(*options, *deploy) as (_, base):
        values = simulate_inputs(base, environment="Acceptance", result_file="result.json")
        run = run_entrypoint(base_env(workspace.parent) | mendix_env(values), workspace)
    assert_deploy_failed(run, "MISSING_CONSTANT", "constant")


def test_simulate_deploy_error_for_one_start_lets_a_rollback_start_the_old_package(
    workspace: Path,
) -> None:
    options = ("--time-scale", "20", "--seed", "calc:1.0.0:Succeeded:Production")
    with simulating(*options, "--deploy-error", "DB_SYNC_FAILED:times=1") as (step, base):
        (seeded,) = [line for line in step.stdout.splitlines() if "package 1.0.0" in line]
        old = seeded.rsplit(" ", 1)[1]
        values = simulate_inputs(
            base,
            version="2.0.0",
            environment="Production",
            allow_production="true",
            rollback="true",
            result_file="result.json",
        )
        run = run_entrypoint(base_env(workspace.parent) | mendix_env(values), workspace)
        headers = {"Mendix-Username": "demo@example.com", "Mendix-ApiKey": "demo-api-key"}
        production = f"{base}/api/1/apps/calc/environments/Production"
        status = requests.get(production, headers=headers, timeout=10).json()["Status"]
        deployed = requests.get(f"{production}/package", headers=headers, timeout=10).json()
    result = assert_deploy_failed(run, "DB_SYNC_FAILED", "")
    assert result["rolled-back"] is True, run.stderr
    assert (status, deployed["PackageId"]) == ("Running", old)  # the rollback's start worked


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("OOPS", "unknown deploy error 'OOPS'; expected CODE[:times=N], CODE one of"),
        ("DB_SYNC_FAILED:times=x", "bad value in deploy error setting 'times=x'"),
        ("DB_SYNC_FAILED:tims=1", "bad deploy error setting 'tims=1'; keys: times"),
        ("DB_SYNC_FAILED:times=0", "times is how many fail, at least 1 (-1: every one)"),
    ],
)
def test_simulate_command_refuses_a_bad_deploy_error(spec: str, message: str) -> None:
    done = subprocess.run(
        [sys.executable, str(ENTRYPOINT), "simulate", "--port", "0", "--deploy-error", spec],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert "--deploy-error" in done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_bad_deploy_inputs_are_all_named_and_nothing_is_sent(
    sim: Simulator, workspace: Path
) -> None:
    run = run_local(
        sim,
        workspace,
        "--stop-timeout",
        "soon",
        environment="Accept/ance",
        auto_sync_db="maybe",
        start_timeout="-1",
        allow_production="yes",
        package_id="../../etc",
    )
    assert run.code == 2
    for text in (
        "MENDIX_ENVIRONMENT is 'Accept/ance'",
        "MENDIX_AUTO_SYNC_DB is 'maybe'; expected true or false",
        "MENDIX_START_TIMEOUT is '-1'",
        "--stop-timeout is 'soon'",
        "MENDIX_ALLOW_PRODUCTION is 'yes'",
        "MENDIX_PACKAGE_ID is '../../etc'",
    ):
        assert text in run.stderr
    assert "Traceback" not in run.stderr
    assert sim.requests() == []


def test_stop_timeout_exits_4_before_any_transport(
    sim: Simulator, acceptance: SimEnvironment, workspace: Path
) -> None:
    acceptance.stop_seconds = 60
    run = run_local(sim, workspace, environment="Acceptance", download="false", stop_timeout="1s")
    assert run.code == 4
    assert run.result()["deploy-result"] == "timeout"
    assert "Fix: raise `MENDIX_STOP_TIMEOUT` or `MENDIX_TIMEOUT`" in run.stderr
    assert "POST transport" not in deploy_calls(sim)


@pytest.mark.parametrize("command", ["show", "deploy"])
def test_package_argument_wins_over_package_id_from_a_dotenv_report(
    command: str, sim: Simulator, service: BuildService, workspace: Path
) -> None:
    wanted = service.seed_package("calc", "5.0.0")
    other = service.seed_package("calc", "5.0.1")
    service.apps["calc"].environments["Acceptance"].start_seconds = 0.2
    run = run_local(
        sim,
        workspace,
        command,
        wanted.package_id,
        package_id=other.package_id,
        environment="Acceptance",
        revision="",
        version="",
    )
    assert run.code == 0, run.stderr
    assert run.result()["package-id"] == wanted.package_id
    assert "Warning" not in run.stderr
    assert not sim.requests("api", path=other.package_id)


def test_a_bad_package_argument_is_named_as_the_argument(sim: Simulator, workspace: Path) -> None:
    run = run_local(sim, workspace, "deploy", "../x", environment="Acceptance")
    assert run.code == 2
    assert "PACKAGE_ID argument is '../x'" in run.stderr
    assert sim.requests() == []


def test_rerun_of_a_deploy_that_already_happened_changes_nothing(
    sim: Simulator, service: BuildService, acceptance: SimEnvironment, workspace: Path
) -> None:
    package = service.seed_package("calc", "6.0.0")
    first = run_local(sim, workspace, "deploy", package.package_id, environment="Acceptance")
    assert first.code == 0, first.stderr
    before = len(sim.requests("api", "POST"))
    again = run_local(sim, workspace, "deploy", package.package_id, environment="Acceptance")
    assert again.code == 0, again.stderr
    assert len(sim.requests("api", "POST")) == before  # no stop, transport or start
    assert "already runs this package" in again.stderr
    result = again.result()
    assert (result["deployed"], result["deploy-result"]) == (True, "success")
    assert result["environment-url"] == "https://calc-accp.mendixcloud.example"


def test_a_running_environment_with_another_package_is_redeployed(
    sim: Simulator, service: BuildService, acceptance: SimEnvironment, workspace: Path
) -> None:
    old = service.seed_package("calc", "6.0.0")
    new = service.seed_package("calc", "6.0.1")
    acceptance.package_id = old.package_id
    run = run_local(sim, workspace, "deploy", new.package_id, environment="Acceptance")
    assert run.code == 0, run.stderr
    assert [call for call in deploy_calls(sim) if call.startswith("POST")] == [
        "POST stop",
        "POST transport",
        "POST start",
    ]
    assert acceptance.package_id == new.package_id


def test_run_dry_run_with_environment_names_the_deploy_and_changes_nothing(
    sim: Simulator, acceptance: SimEnvironment, workspace: Path
) -> None:
    run = run_local(sim, workspace, environment="Acceptance", dry_run="true")
    assert run.code == 0, run.stderr
    assert "POST " in run.stdout
    assert "Then the package would be deployed to Acceptance" in run.stdout
    assert {r.method for r in sim.requests()} == {"GET"}
    assert acceptance.package_id == ""


def test_unreadable_environment_after_the_start_still_counts_as_deployed(
    sim: Simulator, service: BuildService, acceptance: SimEnvironment, workspace: Path
) -> None:
    # The start job stays Starting until the test ends it, after the reads are broken: the
    # step cannot read the environment between its start and the fault, however slow.
    acceptance.start_seconds = 3600
    values = inputs(sim, environment="Acceptance", download="false", result_file="result.json")
    step = StepProcess(base_env(workspace.parent) | mendix_env(values), workspace)
    step.wait_for("Start job created")
    sim.add_fault(Fault("status", method="GET", path=r"/Acceptance$", status=400, times=-1))
    with service.lock:
        for job in acceptance.jobs.values():
            job.ends_at = 0.0
    run = step.finish()
    assert run.code == 0, run.stderr
    result = run.result()
    assert (result["deployed"], result["deploy-result"]) == (True, "success")
    assert result["environment-url"] == "https://calc-accp.mendixcloud.example"
    assert "Could not read the environment's URL" in run.stderr
