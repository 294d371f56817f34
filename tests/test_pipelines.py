"""The entrypoint as GitHub, GitLab, Jenkins and Azure Pipelines run it: outputs for each
outcome, parsed the way each CI parses them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from ci_step.report.ci_env import CiEnv, Platform
from ci_step.report.result import (
    OUTPUT_NAMES,
    PIPELINE_OUTPUTS,
    UNIT_TEST_OUTPUTS,
    output_key,
)
from ci_step.simulator import BuildService, Simulator
from tests import ci_formats
from tests.conftest import (
    API_KEY,
    CIS,
    FAILING,
    Run,
    base_env,
    github_env,
    gitlab_env,
    inputs,
    jenkins_env,
    mendix_env,
    run_entrypoint,
)

AZURE_OWN = {"task.setsecret", "task.setvariable", "task.uploadsummary", "task.logissue"}


def outputs_of(ci: str, run: Run) -> dict[str, str]:
    """The outputs as the CI would hand them to the next step or job."""
    if ci == "github":
        path = run.workspace.parent / "file_commands" / "set_output"
        return ci_formats.github_file_command(path.read_text(encoding="utf-8"))
    if ci == "azure":
        assert ci_formats.azure_commands(run.stdout) == []  # stdout: what a script captures
        variables = ci_formats.azure_output_variables(ci_formats.azure_commands(run.stderr))
        assert list(variables) == list(OUTPUT_NAMES)
        return variables
    if ci == "gitlab":
        data = (run.workspace / "mendix-build.env").read_bytes()
        variables = ci_formats.gitlab_dotenv(data)
        # a gate's outputs are left out when it did not run (GitLab's limit of 20 variables)
        variables = {output_key(n): "" for n in UNIT_TEST_OUTPUTS | PIPELINE_OUTPUTS} | variables
    else:
        variables = ci_formats.java_properties(run.file("mendix-build.properties"))
        document = json.loads(run.file("mendix-build.json"))
        for name in OUTPUT_NAMES:
            value = document[name]
            shown = "" if value is None else str(value)
            if isinstance(value, bool):
                shown = "true" if value else "false"
            assert variables[output_key(name)] == shown
    assert set(variables) == {output_key(n) for n in OUTPUT_NAMES}
    return {name: variables[output_key(name)] for name in OUTPUT_NAMES}


def check_common(ci: str, run: Run, expected_code: int, result: str) -> dict[str, str]:
    assert run.code == expected_code, run.stderr
    outputs = outputs_of(ci, run)
    assert set(outputs) == set(OUTPUT_NAMES)
    assert outputs["result"] == result
    assert float(outputs["duration-seconds"]) >= 0
    assert "Traceback" not in run.stderr
    # The mask command is the one line that must carry the key: the runner consumes it.
    masks = (f"::add-mask::{API_KEY}", f"##vso[task.setsecret]{API_KEY}")
    shown = [line for line in run.stderr.splitlines() if line not in masks]
    everything = (
        run.stdout
        + "\n".join(shown)
        + "".join(
            p.read_text(encoding="utf-8", errors="replace")
            for p in run.workspace.parent.rglob("*")
            if p.is_file() and p.suffix != ".mda"
        )
    )
    assert API_KEY not in everything
    if ci == "github":
        summary = (run.workspace.parent / "file_commands" / "step_summary").read_text("utf-8")
        assert f"Mendix build: {result}" in summary
        errors = [line for line in run.stderr.splitlines() if line.startswith("::error")]
        assert len(errors) == (0 if result == "success" else 1)
        assert run.stderr.splitlines()[0] == f"::add-mask::{API_KEY}"
        assert "::" not in run.stdout  # stdout is only what a script would capture
    if ci == "azure":
        check_azure(run, result)
    return outputs


def check_azure(run: Run, result: str) -> None:
    """The key masked before any other line, the agent's commands only the step's own, one
    error issue on a failure, the summary uploaded from a file in the agent's temp dir."""
    assert run.stderr.splitlines()[0] == f"##vso[task.setsecret]{API_KEY}"
    commands = ci_formats.azure_commands(run.stderr)
    assert {command.name for command in commands} <= AZURE_OWN
    issues = [command for command in commands if command.name == "task.logissue"]
    assert len(issues) == (0 if result == "success" else 1)
    assert all(issue.properties == {"type": "error"} for issue in issues)
    (upload,) = [command for command in commands if command.name == "task.uploadsummary"]
    summary = Path(upload.data)
    assert summary.is_relative_to(run.workspace.parent / "agent_temp")
    assert f"Mendix build: {result}" in summary.read_text("utf-8")


@pytest.mark.parametrize("ci", CIS)
def test_success_builds_downloads_and_reports(
    ci: str, sim: Simulator, service: BuildService, workspace: Path
) -> None:
    run = run_entrypoint(CIS[ci](workspace, inputs(sim)), workspace)
    outputs = check_common(ci, run, 0, "success")
    package = service.apps["calc"].packages[0]
    assert outputs["package-id"] == package.package_id
    assert outputs["status"] == "Succeeded"
    assert (outputs["version"], outputs["revision"]) == ("1.2.3", "3f2a9c1b7e")
    mda = workspace / "calc-1.2.3.mda"
    assert outputs["artifact-path"] == "calc-1.2.3.mda"  # relative to the workspace
    data = mda.read_bytes()
    assert len(data) == 200_000 == int(outputs["artifact-size"])
    assert hashlib.sha256(data).hexdigest() == outputs["artifact-sha256"]
    assert [p.name for p in workspace.glob(".*part")] == []
    assert "Build status: Building" in run.stderr
    assert "Download" in run.stderr


def test_github_summary_of_a_build_alone_has_no_deploy_rows(
    sim: Simulator, workspace: Path
) -> None:
    run = run_entrypoint(github_env(workspace, inputs(sim)), workspace)
    outputs = check_common("github", run, 0, "success")
    assert outputs["deploy-result"] == "skipped"  # the outputs keep every name
    summary = (workspace.parent / "file_commands" / "step_summary").read_text("utf-8")
    rows = [line.split("|")[1].strip() for line in summary.splitlines() if line.startswith("| ")]
    assert "package-id" in rows
    assert "Download" in rows
    deploy = {"environment", "environment-url", "deployed", "deploy-result", "backup-id"}
    assert deploy.isdisjoint(rows)
    assert {"rolled-back", "settings-changed"}.isdisjoint(rows)
    assert not any(row.startswith(("Deploy", "Snapshot")) for row in rows)


@pytest.mark.parametrize("ci", CIS)
def test_failed_build_exits_1_with_outputs(ci: str, sim: Simulator, workspace: Path) -> None:
    run = run_entrypoint(CIS[ci](workspace, inputs(sim, revision=FAILING)), workspace)
    outputs = check_common(ci, run, 1, "failure")
    assert outputs["status"] == "Failed"
    assert outputs["package-id"]
    assert outputs["artifact-path"] == ""
    assert not list(workspace.glob("*.mda"))
    assert "ended Failed" in run.stderr
    assert "Fix:" in run.stderr


@pytest.mark.parametrize("ci", CIS)
def test_timeout_exits_4_with_last_status(
    ci: str, sim: Simulator, service: BuildService, workspace: Path
) -> None:
    service.apps["calc"].stuck_builds = True
    run = run_entrypoint(CIS[ci](workspace, inputs(sim, timeout="1")), workspace)
    outputs = check_common(ci, run, 4, "timeout")
    assert outputs["status"] == "Queued"
    assert outputs["package-id"] == service.apps["calc"].packages[0].package_id
    assert "timeout of 1s passed" in run.stderr


@pytest.mark.parametrize("ci", CIS)
def test_bad_input_exits_2_without_a_request(ci: str, sim: Simulator, workspace: Path) -> None:
    run = run_entrypoint(CIS[ci](workspace, inputs(sim, version="1.2")), workspace)
    outputs = check_common(ci, run, 2, "error")
    assert outputs["package-id"] == ""
    assert sim.requests() == []
    label = {"github": "`with: version:`", "azure": "`env: MENDIX_VERSION:`"}.get(
        ci, "MENDIX_VERSION"
    )
    assert f"{label} is '1.2'; expected major.minor.patch" in run.stderr


def test_github_annotation_and_summary_carry_cause_and_fix(sim: Simulator, workspace: Path) -> None:
    run = run_entrypoint(github_env(workspace, inputs(sim, revision=FAILING)), workspace)
    (error,) = [line for line in run.stderr.splitlines() if line.startswith("::error")]
    assert error.startswith("::error title=mendix-build%3A failure::")
    assert "ended Failed" in error
    assert "Fix: " in error
    assert "%0A" not in error
    summary = (workspace.parent / "file_commands" / "step_summary").read_text("utf-8")
    assert "ended Failed" in summary
    assert "Fix:" in summary
    assert "| package-id |" in summary


def test_github_description_names_the_run(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    run = run_entrypoint(github_env(workspace, inputs(sim, download="false")), workspace)
    assert run.code == 0, run.stderr
    (post,) = sim.requests("api", "POST")
    body = json.loads(post.body)
    assert body == {
        "Branch": "main",
        "Revision": "3f2a9c1b7e",
        "Version": "1.2.3",
        "Description": "GitHub Actions Build Mendix app #12: "
        "https://github.com/acme/calc-pipeline/actions/runs/987654 [revision 3f2a9c1b7e]",
    }
    assert not list(workspace.glob("*.mda"))


def test_gitlab_and_jenkins_descriptions(sim: Simulator, workspace: Path) -> None:
    run_entrypoint(gitlab_env(workspace, inputs(sim, download="false")), workspace)
    run_entrypoint(
        jenkins_env(workspace, inputs(sim, download="false", version="1.2.4")), workspace
    )
    first, second = (json.loads(r.body)["Description"] for r in sim.requests("api", "POST"))
    assert first == (
        "GitLab pipeline 4242: https://gitlab.example.com/acme/calc/-/pipelines/4242 "
        "[revision 3f2a9c1b7e]"
    )
    assert second == (
        "Jenkins jenkins-calc-main-31: https://jenkins.example.com/job/calc/job/main/31/ "
        "[revision 3f2a9c1b7e]"
    )


def test_svn_app_builds_trunk_revision(sim: Simulator, workspace: Path) -> None:
    values = inputs(sim, app_id="legacy", branch="trunk", revision="120", version="3.0.0")
    run = run_entrypoint(gitlab_env(workspace, values), workspace)
    outputs = check_common("gitlab", run, 0, "success")
    assert outputs["artifact-size"] == "50000"
    assert (workspace / "legacy-3.0.0.mda").stat().st_size == 50_000


def test_artifact_path_and_result_file_are_relative_to_workspace(
    sim: Simulator, workspace: Path
) -> None:
    values = inputs(sim, artifact_path="out/app.mda", result_file="reports/result.json")
    run = run_entrypoint(jenkins_env(workspace, values), workspace)
    assert run.code == 0, run.stderr
    document = json.loads((workspace / "reports" / "result.json").read_text("utf-8"))
    assert document["artifact-path"] == "out/app.mda"
    assert document["exit-code"] == 0
    assert document["error"] is None
    assert (workspace / "out" / "app.mda").stat().st_size == document["artifact-size"]


def test_result_file_written_even_for_bad_input(sim: Simulator, workspace: Path) -> None:
    values = inputs(sim, result_file="result.json", app_id="Not Valid!")
    run = run_entrypoint(gitlab_env(workspace, values), workspace)
    assert run.code == 2
    document = json.loads(run.file("result.json"))
    assert document["result"] == "error"
    assert document["exit-code"] == 2
    assert "MENDIX_APP_ID" in document["error"]["message"]


def test_jenkins_without_a_root_url_gets_its_outputs(sim: Simulator, workspace: Path) -> None:
    """Jenkins sets JENKINS_URL and BUILD_URL only when its root URL is configured; the
    build's own variables are always there."""
    env = jenkins_env(workspace, inputs(sim, download="false"))
    del env["JENKINS_URL"], env["BUILD_URL"]
    run = run_entrypoint(env, workspace)
    check_common("jenkins", run, 0, "success")
    (post,) = sim.requests("api", "POST")
    assert (
        json.loads(post.body)["Description"] == "Jenkins jenkins-calc-main-31 [revision 3f2a9c1b7e]"
    )


def test_a_developer_shell_is_not_taken_for_jenkins(sim: Simulator, workspace: Path) -> None:
    """The Jenkins CLI reads JENKINS_URL from the shell: that alone is no Jenkins build."""
    env = base_env(workspace.parent) | mendix_env(inputs(sim, download="false"))
    run = run_entrypoint(env | {"JENKINS_URL": "https://jenkins.example.com/"}, workspace)
    assert run.code == 0, run.stderr
    assert list(workspace.iterdir()) == []


@pytest.mark.parametrize(
    ("variables", "platform"),
    [
        ({"BUILD_TAG": "jenkins-calc-main-31", "BUILD_NUMBER": "31"}, Platform.JENKINS),
        ({"BUILD_TAG": "jenkins-team-calc-7", "BUILD_NUMBER": "7"}, Platform.JENKINS),
        ({"JENKINS_URL": "https://jenkins.example.com/"}, Platform.LOCAL),
        ({"JENKINS_HOME": "/var/jenkins_home", "WORKSPACE": "/tmp/ws"}, Platform.LOCAL),
        ({"BUILD_TAG": "jenkins-calc-main-31"}, Platform.LOCAL),
        ({"BUILD_TAG": "jenkins-calc-main-31", "BUILD_NUMBER": "32"}, Platform.LOCAL),
        ({"BUILD_TAG": "jenkins--31", "BUILD_NUMBER": "31"}, Platform.LOCAL),
        ({"BUILD_TAG": "release-1.2-31", "BUILD_NUMBER": "31"}, Platform.LOCAL),
    ],
)
def test_jenkins_is_told_by_the_build_tag_and_number(
    variables: dict[str, str], platform: Platform
) -> None:
    assert CiEnv.detect(variables).platform is platform
