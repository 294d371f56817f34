"""`mendix-build pipeline-run`: a Mendix Pipelines run started and awaited, against the
simulator's Pipelines API, the entrypoint as each CI runs it; and the simulated API itself."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from ci_step.errors import DeadlineExceeded
from ci_step.flow.pipeline_run import run_pipeline
from ci_step.report.result import StepResult
from ci_step.simulator import BuildService, Fault, Simulator
from ci_step.simulator.pipelines import FAILED
from tests.conftest import (
    API_KEY,
    Run,
    base_env,
    github_env,
    gitlab_env,
    jenkins_env,
    run_entrypoint,
)
from tests.rig import Rig
from tests.test_pipelines import outputs_of

PAT = "pat-pipelines-0c1d2e3f-SECRET"
PIPELINE = "5b1c7f2e-8d9a-4e3b-a1c2-9f8e7d6c5b4a"
EnvMaker = Callable[[Path, dict[str, str]], dict[str, str]]
CIS: dict[str, EnvMaker] = {"github": github_env, "gitlab": gitlab_env, "jenkins": jenkins_env}
RUNS = r"/api/v1/apps/[^/]+/runs$"


@pytest.fixture
def project(service: BuildService) -> str:
    """calc's project id, with a pipeline whose runs take under a second."""
    service.pat = PAT
    project_id = service.apps["calc"].project_id
    service.pipelines.add(project_id, PIPELINE, name="Build and test")
    service.pipelines.created_seconds = 0.2
    service.pipelines.running_seconds = 0.4
    return project_id


def values(sim: Simulator, project: str, **overrides: str) -> dict[str, str]:
    base = {
        "pipeline-id": PIPELINE,
        "project-id": project,
        "pat": PAT,
        "pipelines-url": sim.base_url,
        "poll-interval": "0.1",
        "timeout": "30s",
        "result-file": "result.json",
    }
    return base | {k.replace("_", "-"): v for k, v in overrides.items()}


def pipeline_run(ci: str, sim: Simulator, project: str, workspace: Path, **overrides: str) -> Run:
    env = CIS[ci](workspace, values(sim, project, **overrides))
    return run_entrypoint(env, workspace, "pipeline-run")


def assert_quiet(run: Run) -> None:
    """No secret anywhere but the one line that asks GitHub to mask it."""
    text = run.stdout + "\n".join(
        line for line in run.stderr.splitlines() if line != f"::add-mask::{PAT}"
    )
    text += "".join(
        p.read_text("utf-8", errors="replace")
        for p in run.workspace.parent.rglob("*")
        if p.is_file()
    )
    assert PAT not in text
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("ci", CIS)
def test_a_run_is_started_printed_and_awaited_until_it_succeeds(
    ci: str, sim: Simulator, service: BuildService, project: str, workspace: Path
) -> None:
    # each status lasts ten polls: the step sees (and logs) every one however slow the host
    service.pipelines.created_seconds = service.pipelines.running_seconds = 1.0
    run = pipeline_run(ci, sim, project, workspace)
    assert run.code == 0, run.stderr
    (started,) = sim.requests("api", "POST", RUNS)
    run_id = json.loads((workspace / "result.json").read_text("utf-8"))["pipeline-run-id"]
    assert run.stdout == f"{run_id}\n"  # the one line a script captures
    outputs = outputs_of(ci, run)
    assert (outputs["result"], outputs["pipeline-status"]) == ("success", "SUCCEEDED")
    assert outputs["pipeline-run-id"] == run_id
    assert outputs["package-id"] == ""
    assert json.loads(started.body) == {"pipelineId": PIPELINE}
    assert started.headers["authorization"] == f"MxToken {PAT}"
    assert "mendix-apikey" not in started.headers
    statuses = sim.requests("api", "GET", rf"/runs/{run_id}/status$")
    assert len(statuses) >= 3  # CREATED, RUNNING, SUCCEEDED
    for line in ("Pipeline run status: CREATED", "RUNNING", "SUCCEEDED"):
        assert line in run.stderr
    assert_quiet(run)
    if ci == "github":
        summary = (workspace.parent / "file_commands" / "step_summary").read_text("utf-8")
        assert summary.startswith("### ✅ Mendix pipeline run: success")
        assert f"| pipeline-run-id | ` {run_id} ` |" in summary
        assert "| package-id |" not in summary


@pytest.mark.parametrize("ci", CIS)
def test_a_failed_run_exits_1(
    ci: str, sim: Simulator, service: BuildService, project: str, workspace: Path
) -> None:
    service.pipelines.pipelines[project][PIPELINE].outcome = FAILED
    run = pipeline_run(ci, sim, project, workspace)
    assert run.code == 1, run.stderr
    outputs = outputs_of(ci, run)
    assert (outputs["result"], outputs["pipeline-status"]) == ("failure", "FAILED")
    assert f"of pipeline {PIPELINE} ended FAILED" in run.stderr
    assert "the app's Pipelines page" in run.stderr
    assert_quiet(run)


def test_a_run_outlasting_the_timeout_exits_4_and_goes_on(
    sim: Simulator, service: BuildService, project: str, workspace: Path
) -> None:
    service.pipelines.running_seconds = 3600
    run = pipeline_run("gitlab", sim, project, workspace, timeout="2s")
    assert run.code == 4, run.stderr
    outputs = outputs_of("gitlab", run)
    assert (outputs["result"], outputs["pipeline-status"]) == ("timeout", "RUNNING")
    assert "was RUNNING; the run goes on at Mendix" in run.stderr


@pytest.mark.parametrize(
    ("scopes", "status"),
    [({"mx:pipelines:read"}, "HTTP 403"), ({"mx:pipelines:write"}, "HTTP 403"), (None, "HTTP 401")],
)
def test_a_refused_token_exits_3_naming_the_scopes(
    scopes: set[str] | None,
    status: str,
    sim: Simulator,
    service: BuildService,
    project: str,
    workspace: Path,
) -> None:
    overrides = {}
    if scopes is None:
        overrides["pat"] = "pat-not-the-token"
    else:
        service.pipelines.scopes = scopes
    run = pipeline_run("gitlab", sim, project, workspace, **overrides)
    assert run.code == 3, run.stderr
    error = json.loads((workspace / "result.json").read_text("utf-8"))["error"]
    assert "refused the personal access token (`MENDIX_PAT`)" in error["message"]
    assert status in error["message"]
    assert "mx:pipelines:write and mx:pipelines:read" in error["fix"]
    assert_quiet(run)


@pytest.mark.parametrize(
    ("overrides", "words", "fix"),
    [
        ({"pipeline_id": "no-such-pipeline"}, "Pipeline not found", "`MENDIX_PIPELINE_ID`"),
        ({"project_id": "no-such-app"}, "App not found", "`MENDIX_PROJECT_ID`"),
    ],
)
def test_an_unknown_app_or_pipeline_exits_5(
    overrides: dict[str, str], words: str, fix: str, sim: Simulator, project: str, workspace: Path
) -> None:
    run = pipeline_run("gitlab", sim, project, workspace, **overrides)
    assert run.code == 5, run.stderr
    error = json.loads((workspace / "result.json").read_text("utf-8"))["error"]
    assert "found no such app or pipeline" in error["message"]
    assert words in error["message"]
    assert error["error-code"] == "NOT_FOUND"
    assert fix in error["fix"]


def test_a_pipeline_not_activated_exits_5_with_the_reason(
    sim: Simulator, service: BuildService, project: str, workspace: Path
) -> None:
    service.pipelines.pipelines[project][PIPELINE].activated = False
    run = pipeline_run("jenkins", sim, project, workspace)
    assert run.code == 5, run.stderr
    assert "pipelineId: The pipeline is not activated." in run.stderr
    assert "saved and activated" in run.stderr


def test_a_lost_start_answer_is_not_followed_by_a_second_run(
    sim: Simulator, service: BuildService, project: str, workspace: Path
) -> None:
    sim.add_fault(Fault("reset", method="POST", path=RUNS, process=True))
    run = pipeline_run("gitlab", sim, project, workspace)
    assert run.code == 5, run.stderr
    assert len(sim.requests("api", "POST", RUNS)) == 1
    assert len(service.pipelines.runs) == 1  # the run the lost answer started
    assert "may have started" in run.stderr
    assert "Pipelines page" in run.stderr


def test_status_answers_lost_to_a_gateway_are_read_again(
    sim: Simulator, project: str, workspace: Path
) -> None:
    sim.add_fault(Fault("status", method="GET", path=r"/status$", status=502, times=2))
    run = pipeline_run("gitlab", sim, project, workspace)
    assert run.code == 0, run.stderr
    assert "Mendix Pipelines API call failed; retrying" in run.stderr


def test_a_status_the_step_does_not_know_ends_the_wait(
    sim: Simulator, project: str, workspace: Path
) -> None:
    sim.add_fault(
        Fault("rewrite", path=r"/status$", times=-1, field_name="status", field_value="PAUSED")
    )
    run = pipeline_run("gitlab", sim, project, workspace)
    assert run.code == 5, run.stderr
    assert "gave run" in run.stderr
    assert "the status PAUSED" in run.stderr
    assert len(sim.requests("api", "GET")) == 1


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"pipeline_id": ""}, "pipeline-id is required: set MENDIX_PIPELINE_ID"),
        ({"project_id": ""}, "project-id is required: set MENDIX_PROJECT_ID"),
        ({"pat": ""}, "pat is required: set MENDIX_PAT"),
        ({"pipeline_id": "a b/../c"}, "MENDIX_PIPELINE_ID is 'a b/../c'; expected a pipeline's id"),
        ({"pipelines_url": "http://pipelines.example.com"}, "MENDIX_PIPELINES_URL is"),
    ],
)
def test_bad_pipeline_inputs_exit_2_without_a_request(
    overrides: dict[str, str], words: str, sim: Simulator, project: str, workspace: Path
) -> None:
    run = pipeline_run("gitlab", sim, project, workspace, **overrides)
    assert run.code == 2, run.stderr
    assert words in run.stderr
    assert sim.requests() == []


def test_a_config_file_may_name_only_mendix_hosts_as_pipelines_url(
    sim: Simulator, project: str, workspace: Path
) -> None:
    (workspace / "mendix.yml").write_text(
        "pipelines-url: https://collector.example.com\n", encoding="utf-8"
    )
    env = base_env(workspace.parent) | {"MENDIX_PAT": PAT, "MENDIX_CONFIG": "mendix.yml"}
    run = run_entrypoint(
        env, workspace, "pipeline-run", "--pipeline-id", PIPELINE, "--project-id", project
    )
    assert run.code == 2, run.stderr
    assert "'pipelines-url' in config file mendix.yml is not an https URL of mendix.com" in (
        run.stderr
    )
    assert PAT not in run.stderr


def test_pipeline_run_needs_no_mendix_api_key(
    sim: Simulator, project: str, workspace: Path
) -> None:
    env = base_env(workspace.parent) | {"MENDIX_PAT": PAT}
    args = ("--pipeline-id", PIPELINE, "--project-id", project, "--pipelines-url", sim.base_url)
    run = run_entrypoint(env, workspace, "pipeline-run", *args, "--poll-interval", "0.1")
    assert run.code == 0, run.stderr
    assert API_KEY not in run.stderr
    assert sim.requests("api", path=r"/api/1/") == []


# -- on the fake clock ----------------------------------------------------------------------


def test_the_run_is_polled_on_the_schedule_within_timeout(rig: Rig) -> None:
    rig.service.pat = PAT
    project = rig.service.apps["calc"].project_id
    rig.service.pipelines.add(project, PIPELINE)
    rig.service.pipelines.running_seconds = 3 * 3600  # Mendix ends a run after 3 hours
    config = rig.config(
        **{
            "pipeline-id": PIPELINE,
            "project-id": project,
            "pat": PAT,
            "pipelines-url": rig.sim.base_url,
            "timeout": "1h",
        }
    )
    result = StepResult()
    started = rig.clock.now()
    with pytest.raises(DeadlineExceeded):
        run_pipeline(config, rig.services(config), result)
    assert rig.clock.now() - started == pytest.approx(3600)
    assert result.pipeline_status == "RUNNING"
    polls = len(rig.sim.requests("api", "GET", r"/status$"))
    assert 60 <= polls <= 200  # at most every 30 s once the run is long, never a tight loop


# -- the simulated API ------------------------------------------------------------------------


def test_simulated_runs_go_created_running_then_their_outcome(rig: Rig) -> None:
    rig.service.pat = PAT
    project = rig.service.apps["calc"].project_id
    rig.service.pipelines.add(project, "p", outcome=FAILED)
    headers = {"Authorization": f"MxToken {PAT}"}
    root = f"{rig.sim.base_url}/api/v1/apps/{project}/runs"
    created = requests.post(root, json={"pipelineId": "p"}, headers=headers, timeout=5)
    assert created.status_code == 201
    run_id = created.json()["id"]
    assert created.headers["Content-Location"] == f"apps/{project}/runs/{run_id}"
    assert created.json()["triggeredBy"] == {"email": "demo@example.com"}
    seen = []
    for _ in range(4):
        answer = requests.get(f"{root}/{run_id}/status", headers=headers, timeout=5).json()
        assert answer["runId"] == run_id
        seen.append(answer["status"])
        rig.clock.sleep(1.0)
    assert seen == ["CREATED", "RUNNING", "RUNNING", "FAILED"]
    missing = requests.post(root, json={}, headers=headers, timeout=5)
    assert missing.status_code == 400
    assert missing.json()["error"]["invalid-params"] == [
        {"name": "pipelineId", "reason": "is required"}
    ]
    assert requests.get(f"{root}/{run_id}/status", timeout=5).status_code == 401
