"""Fix lines say the right thing: an input named as the CI at hand spells it (the same text
in the log, the result file and GitHub's and Azure's summary and annotation), a refused personal
access token named as such, an unwritten output file named with the reason; and
`list --filter-status` takes the statuses in any case."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ci_step.config.spelling import speller
from ci_step.config.validate import RawInput
from ci_step.errors import input_name, spelling
from ci_step.report.ci_env import CiEnv, Platform
from ci_step.simulator import BuildService, Fault, Simulator
from ci_step.simulator.environments import SimEnvironment
from tests import ci_formats
from tests.conftest import (
    API_KEY,
    CIS,
    USER,
    Run,
    azure_env,
    base_env,
    github_env,
    gitlab_env,
    inputs,
    mendix_env,
    run_entrypoint,
    run_local,
)

PAT = "pat-5e4d3c2b1a09-SECRET"


def in_ci(ci: str, sim: Simulator, workspace: Path, **overrides: str) -> Run:
    values = inputs(sim, **({"result_file": "result.json"} | overrides))
    return run_entrypoint(CIS[ci](workspace, values), workspace)


def local_flags(sim: Simulator, workspace: Path, **overrides: str) -> Run:
    """Every input as a command-line flag, outside any CI."""
    values = inputs(sim, result_file="result.json", **overrides)
    args = [part for name, value in values.items() for part in (f"--{name}", value)]
    return run_entrypoint(base_env(workspace.parent), workspace, *args)


def error_of(run: Run) -> dict[str, object]:
    error = run.result()["error"]
    assert isinstance(error, dict)
    return error


def github_reports(workspace: Path, run: Run) -> tuple[str, str]:
    """(the step summary, the ::error:: annotation) of a GitHub run."""
    summary = (workspace.parent / "file_commands" / "step_summary").read_text("utf-8")
    (annotation,) = [line for line in run.stderr.splitlines() if line.startswith("::error ")]
    return summary, annotation


def azure_reports(run: Run) -> tuple[str, str]:
    """(the uploaded summary, the error issue's message) of an Azure run."""
    commands = ci_formats.azure_commands(run.stderr)
    (upload,) = [c for c in commands if c.name == "task.uploadsummary"]
    (issue,) = [c for c in commands if c.name == "task.logissue"]
    return Path(upload.data).read_text("utf-8"), issue.data


# -- an input the user gave, named as they gave it --------------------------------------

SPELLED_APP_ID = {
    "github": "`with: app-id:`",
    "gitlab": "`MENDIX_APP_ID`",
    "jenkins": "`MENDIX_APP_ID`",
    "azure": "`env: MENDIX_APP_ID:`",
}


@pytest.mark.parametrize("ci", sorted(CIS))
def test_fix_names_a_given_input_as_the_ci_spells_it(
    ci: str, sim: Simulator, workspace: Path
) -> None:
    run = in_ci(ci, sim, workspace, app_id="nosuchapp")
    assert run.code == 5, run.stderr
    fix = f"check {SPELLED_APP_ID[ci]} (the subdomain name, not the project id)"
    assert f"Fix: {fix}" in run.stderr
    assert fix in str(error_of(run)["fix"])
    assert "check app-id" not in run.stderr
    if ci in ("github", "azure"):
        summary, annotation = (
            github_reports(workspace, run) if ci == "github" else azure_reports(run)
        )
        assert f"Fix: {fix}" in summary
        assert f"Fix: {fix}" in annotation
        assert "INPUT_APP" not in run.stderr + summary


def test_locally_a_fix_names_the_flag_the_input_came_as(sim: Simulator, workspace: Path) -> None:
    run = local_flags(sim, workspace, app_id="nosuchapp")
    assert run.code == 5, run.stderr
    assert "Fix: check `--app-id` (the subdomain name" in run.stderr
    from_env = run_local(sim, workspace, app_id="nosuchapp")
    assert "Fix: check `MENDIX_APP_ID` (the subdomain name" in from_env.stderr


# -- an input not given, named as the CI sets inputs ---------------------------------------

ALLOW_PRODUCTION = {
    "github": "`with: allow-production: true`",
    "gitlab": "`MENDIX_ALLOW_PRODUCTION=true`",
    "jenkins": "`MENDIX_ALLOW_PRODUCTION=true`",
    "azure": "`env: MENDIX_ALLOW_PRODUCTION: true`",
}


@pytest.mark.parametrize("ci", sorted(CIS))
def test_a_setting_to_add_is_spelled_for_the_ci(
    ci: str, sim: Simulator, service: BuildService, workspace: Path
) -> None:
    service.apps["calc"].environments["Live EU"] = SimEnvironment("Live EU", production=True)
    run = in_ci(ci, sim, workspace, environment="Live EU")
    assert run.code == 2, run.stderr
    assert f"set {ALLOW_PRODUCTION[ci]} to deploy to it" in run.stderr
    assert ALLOW_PRODUCTION[ci] in str(error_of(run)["message"])
    assert sim.requests("api", "POST") == []
    # the rule checked with the inputs, before any request, spells it the same way
    named = in_ci(ci, sim, workspace, environment="Production")
    assert named.code == 2, named.stderr
    assert f"deploying there needs {ALLOW_PRODUCTION[ci]}" in named.stderr


def test_locally_a_setting_to_add_follows_how_the_other_inputs_came(
    sim: Simulator, workspace: Path
) -> None:
    flags = local_flags(sim, workspace, environment="Production")
    assert flags.code == 2, flags.stderr
    assert "--environment is Production; deploying there needs `--allow-production true`" in (
        flags.stderr
    )
    variables = run_local(sim, workspace, environment="Production")
    assert "needs `MENDIX_ALLOW_PRODUCTION=true`" in variables.stderr


def test_a_required_input_is_asked_for_as_the_ci_sets_it(sim: Simulator, workspace: Path) -> None:
    values = inputs(sim)
    del values["version"]
    github = run_entrypoint(github_env(workspace, values), workspace)
    assert github.code == 2, github.stderr
    assert "version is required: set with: version:" in github.stderr
    gitlab = run_entrypoint(gitlab_env(workspace, values), workspace)
    assert "version is required: set MENDIX_VERSION" in gitlab.stderr
    azure = run_entrypoint(azure_env(workspace, values), workspace)
    assert "version is required: set env: MENDIX_VERSION:" in azure.stderr
    assert "Fix: set `env: MENDIX_VERSION:`" in azure.stderr
    local = run_entrypoint(base_env(workspace.parent) | mendix_env(values), workspace)
    assert "version is required: set MENDIX_VERSION or pass --version" in local.stderr
    assert sim.requests() == []


# -- GitHub: inputs named as written under `with:`, a mistyped key refused ------------------


def github_refusal(sim: Simulator, workspace: Path, **extra: str) -> tuple[Run, str, str]:
    """A refused GitHub run: (the run, its ::error:: annotation, its result file's fix)."""
    values = inputs(sim, result_file="result.json", version="1.2")
    run = run_entrypoint(github_env(workspace, values) | extra, workspace)
    assert run.code == 2, run.stderr
    assert sim.requests() == []
    _summary, annotation = github_reports(workspace, run)
    return run, annotation, str(error_of(run)["fix"])


def test_github_value_errors_name_the_with_key_and_the_fix_stands_alone(
    sim: Simulator, workspace: Path
) -> None:
    run, annotation, fix = github_refusal(sim, workspace, INPUT_TIMEOUT="soon")
    for problem in ("`with: version:` is '1.2'; expected", "`with: timeout:` is 'soon'"):
        assert problem in run.stderr
        assert problem in annotation
    assert fix == "correct `with: version:` and `with: timeout:`"
    assert f"Fix: {fix}. More:" in annotation  # a sentence each, on one line
    summary, _ = github_reports(workspace, run)
    assert "INPUT_" not in run.stderr + summary + run.file("result.json")
    assert "above" not in run.stderr


def test_a_mistyped_with_key_is_refused_naming_the_input_meant(
    sim: Simulator, workspace: Path
) -> None:
    """GitHub only warns of a `with:` key the action does not declare and hands it over as
    INPUT_<KEY>; its value would be ignored, so the step refuses it."""
    _run, annotation, fix = github_refusal(sim, workspace, INPUT_VERSON="1.2.4", INPUT_QQQZZ="x")
    assert "`with: verson:` is not an input of this step: did you mean `version`?" in annotation
    assert "`with: qqqzz:` is not an input of this step" in annotation
    assert fix == (
        "correct `with: version:`; remove `with: qqqzz:`; rename `with: verson:` to `version`"
    )


def test_what_github_sets_for_a_docker_action_is_accepted(sim: Simulator, workspace: Path) -> None:
    """Every declared input (empty when not given), under both spellings, and the `args`
    and `entrypoint` a container action always accepts."""
    env = github_env(workspace, inputs(sim, download="false")) | {
        "INPUT_ARGS": "",
        "INPUT_ENTRYPOINT": "",
        "INPUT_POLL_INTERVAL": "0.1",
    }
    run = run_entrypoint(env, workspace)
    assert run.code == 0, run.stderr


def test_a_missing_input_and_a_bad_file_are_fixes_of_their_own(
    sim: Simulator, workspace: Path
) -> None:
    config = workspace / "mendix.yml"
    config.write_text("verison: 1.0.0\n", encoding="utf-8")
    values = inputs(sim, result_file="result.json", config="mendix.yml")
    del values["version"]
    run = run_entrypoint(gitlab_env(workspace, values), workspace)
    assert run.code == 2, run.stderr
    fix = "correct config file mendix.yml; set `MENDIX_VERSION`"
    assert error_of(run)["fix"] == fix
    assert f"Fix: {fix}" in run.stderr


# -- the personal access token -------------------------------------------------------------


@pytest.mark.parametrize(
    ("ci", "spelled"), [("github", "`with: pat:`"), ("gitlab", "`MENDIX_PAT`")]
)
def test_a_refused_pat_names_the_pat_not_the_api_key(
    ci: str, spelled: str, sim: Simulator, service: BuildService, workspace: Path
) -> None:
    service.pat = "pat-the-one-the-server-knows"
    run = in_ci(
        ci,
        sim,
        workspace,
        revision="latest",
        pat=PAT,
        project_id=service.apps["calc"].project_id,
        repository_url=sim.base_url,
    )
    assert run.code == 3, run.stderr
    error = error_of(run)
    assert f"The App Repository API refused the personal access token ({spelled})" in str(
        error["message"]
    )
    assert "HTTP 401" in str(error["message"])
    assert str(error["fix"]).startswith(f"check {spelled} (a personal access token")
    assert "mx:modelrepository:repo:read" in str(error["fix"])
    for wrong in ("api-key", "API_KEY", "username", "USERNAME"):
        assert wrong not in str(error["fix"])
    assert sim.requests("api", "POST") == []
    masked = [line for line in run.stderr.splitlines() if line.startswith("::add-mask::")]
    assert len(masked) == (2 if ci == "github" else 0)  # GitHub is asked to mask both
    told = [line for line in run.stderr.splitlines() if line not in masked]
    written = run.stdout + "\n".join(told) + run.file("result.json")
    assert PAT not in written
    assert API_KEY not in written
    assert USER not in str(error)


def test_a_pat_without_permission_names_the_scope_and_project(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    service.pat = PAT
    sim.add_fault(Fault("status", path="^/v1/", status=403))
    run = run_local(
        sim,
        workspace,
        revision="latest",
        pat=PAT,
        project_id=service.apps["calc"].project_id,
        repository_url=sim.base_url,
    )
    assert run.code == 3, run.stderr
    error = error_of(run)
    assert "refused the personal access token (`MENDIX_PAT`) permission" in str(error["message"])
    assert "scope mx:modelrepository:repo:read" in str(error["fix"])
    assert "`MENDIX_PROJECT_ID`" in str(error["fix"])
    assert "API Rights" not in str(error["fix"])
    assert PAT not in run.stdout + run.stderr + run.file("result.json")


# -- output files --------------------------------------------------------------------------


def test_an_unwritable_jenkins_file_is_named_with_the_reason(
    sim: Simulator, workspace: Path
) -> None:
    properties = workspace / "mendix-build.properties"
    properties.mkdir()
    run = in_ci("jenkins", sim, workspace)
    assert run.code == 2, run.stderr
    assert f"{properties}: cannot write (Is a directory)" in run.stderr
    assert f"{properties}: cannot write (Is a directory)" in str(error_of(run)["message"])
    fix = f"make sure directory {workspace} exists and the step may write there"
    assert error_of(run)["fix"] == fix
    document = json.loads((workspace / "mendix-build.json").read_text("utf-8"))
    assert document["exit-code"] == 2


@pytest.mark.parametrize(
    ("ci", "spelled"), [("gitlab", "`MENDIX_RESULT_FILE`"), ("github", "`with: result-file:`")]
)
def test_an_unwritable_result_file_names_its_input(
    ci: str, spelled: str, sim: Simulator, workspace: Path
) -> None:
    (workspace / "reports").write_text("a file, not a directory", encoding="utf-8")
    run = in_ci(ci, sim, workspace, result_file="reports/result.json")
    assert run.code == 2, run.stderr
    assert f"{workspace / 'reports' / 'result.json'}: cannot write (" in run.stderr
    assert f"Fix: set {spelled} to a file in a writable directory" in run.stderr


# -- list --filter-status ------------------------------------------------------------------


def test_filter_status_takes_any_case(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    ok = service.seed_package("calc", "1.0.0", age_seconds=7200)
    queued = service.seed_package("calc", "1.0.1", status="Queued", age_seconds=3600)
    service.seed_package("calc", "1.0.2", status="Failed", age_seconds=1800)
    run = run_local(
        sim,
        workspace,
        "list",
        "--json",
        "--filter-status",
        "succeeded",
        "--filter-status",
        "QUEUED",
    )
    assert run.code == 0, run.stderr
    assert [p["PackageId"] for p in json.loads(run.stdout)] == [queued.package_id, ok.package_id]


def test_filter_status_refuses_an_unknown_status_before_any_request(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    service.seed_package("calc", "1.0.0")
    run = run_local(sim, workspace, "list", "--filter-status", "Done")
    assert run.code == 2, run.stderr
    message = (
        "--filter-status 'Done' is not a package status: one of Queued, Building, Uploading, "
        "Succeeded, Failed (any case)"
    )
    assert message in run.stderr
    assert message in str(error_of(run)["message"])
    assert run.stdout == ""
    assert sim.requests() == []


@pytest.mark.parametrize(("given", "meant"), [("Success", "Succeeded"), ("fail", "Failed")])
def test_filter_status_suggests_the_closest_status(
    given: str, meant: str, sim: Simulator, workspace: Path
) -> None:
    run = run_local(sim, workspace, "list", "--filter-status", given)
    assert run.code == 2, run.stderr
    assert (
        f"--filter-status '{given}' is not a package status (did you mean '{meant}'?): one of "
        in run.stderr
    )
    assert run.stdout == ""
    assert sim.requests() == []


# -- the speller's rules, in-process --------------------------------------------------------


def test_speller_names_each_kind_of_source() -> None:
    raw = {
        "timeout": RawInput("5m", "timeout (in ci/mendix.yml)"),
        "package-id": RawInput("abc", "PACKAGE_ID argument"),
        "backup": RawInput("true", "INPUT_BACKUP"),
        "version": RawInput("1.0.0", "--version"),
        "app-id": RawInput("calc", "MENDIX_APP_ID"),
        "rollback": RawInput("false", "rollback"),  # not given: its default
    }
    spell = speller(CiEnv(Platform.LOCAL, {}), raw)
    assert spell("timeout", None) == "timeout (in ci/mendix.yml)"
    assert spell("timeout", "1h") == "timeout: 1h (in ci/mendix.yml)"
    assert spell("package-id", None) == "PACKAGE_ID argument"
    assert spell("backup", "false") == "with: backup: false"
    assert spell("version", "auto") == "--version auto"
    assert spell("app-id", None) == "MENDIX_APP_ID"
    assert spell("rollback", "true") == "--rollback true"  # a flag was given: flags
    jenkins = speller(CiEnv(Platform.JENKINS, {}), raw)
    assert jenkins("rollback", "true") == "MENDIX_ROLLBACK=true"
    assert jenkins("version", None) == "--version"  # as given, in any CI
    with spelling(jenkins):
        assert input_name("stop-timeout") == "`MENDIX_STOP_TIMEOUT`"
    assert input_name("stop-timeout") == "`stop-timeout`"  # outside a run: the bare name


def test_azure_speller_names_inputs_as_the_step_env_keys() -> None:
    """In Azure Pipelines the inputs are the step's environment, and secrets reach it only
    through its `env:`: a variable given, or one to set, is named as a key of `env:`."""
    raw = {
        "app-id": RawInput("calc", "MENDIX_APP_ID"),
        "version": RawInput("1.0.0", "--version"),
        "timeout": RawInput("5m", "timeout (in ci/mendix.yml)"),
    }
    azure = speller(CiEnv(Platform.AZURE, {}), raw)
    assert azure("app-id", None) == "env: MENDIX_APP_ID:"
    assert azure("app-id", "calc2") == "env: MENDIX_APP_ID: calc2"
    assert azure("allow-production", "true") == "env: MENDIX_ALLOW_PRODUCTION: true"
    assert azure("api-key", None) == "env: MENDIX_API_KEY:"
    assert azure("version", None) == "--version"  # as given, in any CI
    assert azure("timeout", None) == "timeout (in ci/mendix.yml)"
