"""Settings files carry values, never secrets out: a constant's value before the change is
never shown; ``${NAME}`` reads only the variables settings-variables allows and never the
step's own secrets nor the CI's tokens; a short secret (``true``, ``1234``) never corrupts
an output a program reads. Each through the entrypoint, as each CI runs it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ci_step.config.parsers import settings_variables
from ci_step.domain.app_settings import Allowed
from ci_step.report.result import StepResult
from ci_step.secrets import REGISTRY, redact
from ci_step.simulator import BuildService, Simulator
from ci_step.simulator.environments import SimEnvironment
from ci_step.simulator.packages import constants_of
from ci_step.simulator.settings import Setting
from tests.ci_formats import azure_commands
from tests.conftest import (
    API_KEY,
    CIS,
    Run,
    base_env,
    github_env,
    gitlab_env,
    inputs,
    mendix_env,
    run_entrypoint,
)
from tests.test_pipelines import outputs_of

PORTAL = "portal-Set-by-hand-7731"  # a secret set in the Portal: nothing tells the step
PASSWORD = "erp-Pa55word-never-shown"
TOKEN = "ci-t0ken-4c1e-never-copied"


@pytest.fixture(autouse=True)
def _forget_secrets() -> Iterator[None]:
    yield
    REGISTRY.clear()


@pytest.fixture
def acceptance(service: BuildService) -> SimEnvironment:
    """Acceptance, whose Calc.ApiToken and Calc.Password were set by hand in the Portal."""
    service.apps["calc"].constants.update(
        constants_of({"Calc.ApiToken": None, "Calc.Password": None})
    )
    environment = service.apps["calc"].environments["Acceptance"]
    environment.start_seconds = 0.3
    for name in ("Calc.ApiToken", "Calc.Password"):
        environment.constants[name] = Setting(PORTAL, PORTAL, "String")
    return environment


def write_settings(workspace: Path, text: str) -> str:
    (workspace / "settings.yml").write_text(text, encoding="utf-8")
    return "settings.yml"


def everything(run: Run) -> str:
    """All the step printed (but the mask commands) and every file it wrote."""
    printed = "\n".join(
        line
        for line in (run.stdout + run.stderr).splitlines()
        if not line.startswith(("::add-mask::", "##vso[task.setsecret]"))
    )
    files = (
        path.read_text("utf-8", errors="replace")
        for path in sorted(run.workspace.parent.rglob("*"))
        if path.is_file() and path.name != "settings.yml"
    )
    return printed + "\n".join(files)


# -- 1. a constant's old value is never shown ----------------------------------------------

SETTINGS = (
    "constants:\n"
    "  Calc.ApiToken: plain-token-value\n"
    "  Calc.Password: ${ERP_PASSWORD}\n"
    "scheduled-events:\n"
    "  MyFirstModule.NightlyCleanup: Enabled\n"
)
CHANGES = [
    "constant Calc.ApiToken: set to plain-token-value",
    "constant Calc.Password: set from ${ERP_PASSWORD}",
    "scheduled event MyFirstModule.NightlyCleanup: Disabled → Enabled",
]


@pytest.mark.parametrize("ci", list(CIS))
def test_a_constants_old_value_is_never_shown(
    ci: str, sim: Simulator, acceptance: SimEnvironment, workspace: Path
) -> None:
    path = write_settings(workspace, SETTINGS)
    values = inputs(
        sim,
        environment="Acceptance",
        download="false",
        result_file="result.json",
        settings_file=path,
        settings_variables="ERP_PASSWORD",
    )
    run = run_entrypoint(CIS[ci](workspace, values) | {"ERP_PASSWORD": PASSWORD}, workspace)
    assert run.code == 0, run.stderr
    assert acceptance.constants["Calc.ApiToken"].value == "plain-token-value"
    assert acceptance.constants["Calc.Password"].value == PASSWORD
    assert json.loads(run.file("result.json"))["settings-changes"] == CHANGES
    for change in CHANGES:
        assert change in run.stderr
    if ci == "github":
        summary = (workspace.parent / "file_commands" / "step_summary").read_text("utf-8")
        assert "\n".join(CHANGES) in summary
    if ci == "jenkins":
        assert json.loads(run.file("mendix-build.json"))["settings-changes"] == CHANGES
    if ci == "azure":  # masked before the step logs a line
        lines = run.stderr.splitlines()
        first_logged = next(i for i, line in enumerate(lines) if line.startswith("["))
        assert lines.index(f"##vso[task.setsecret]{PASSWORD}") < first_logged
        (upload,) = [c for c in azure_commands(run.stderr) if "upload" in c.name]
        assert "\n".join(CHANGES) in Path(upload.data).read_text("utf-8")
    shown = everything(run)
    assert PORTAL not in shown
    assert PASSWORD not in shown


def test_a_dry_run_never_shows_a_constants_old_value(
    sim: Simulator, acceptance: SimEnvironment, workspace: Path
) -> None:
    path = write_settings(workspace, SETTINGS)
    values = inputs(
        sim,
        environment="Acceptance",
        settings_file=path,
        settings_variables="ERP_PASSWORD",
        dry_run="true",
    )
    run = run_entrypoint(github_env(workspace, values) | {"ERP_PASSWORD": PASSWORD}, workspace)
    assert run.code == 0, run.stderr
    for change in CHANGES:
        assert f"would change {change}" in run.stdout
    assert PORTAL not in everything(run)
    assert sim.requests("api", "POST") == []


def test_a_dry_run_redacts_a_secret_written_as_a_plain_value(
    sim: Simulator, acceptance: SimEnvironment, workspace: Path
) -> None:
    path = write_settings(workspace, f"constants:\n  Calc.ApiToken: {API_KEY}\n")
    values = inputs(sim, environment="Acceptance", settings_file=path, dry_run="true")
    run = run_entrypoint(gitlab_env(workspace, values), workspace)
    assert run.code == 0, run.stderr
    assert "would change constant Calc.ApiToken: set to ***" in run.stdout
    assert API_KEY not in everything(run)


# -- 2. ${NAME} reads only what the user allows, never a secret of the step or the CI ------


@pytest.mark.parametrize(
    ("ci", "variable", "why"),
    [
        ("github", "GITHUB_TOKEN", "a token the CI gives the job"),
        ("github", "ACTIONS_RUNTIME_TOKEN", "a token the CI gives the job"),
        ("github", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "a token the CI gives the job"),
        ("github", "INPUT_API_KEY", "which holds the step's own api-key"),
        ("gitlab", "CI_JOB_TOKEN", "a token the CI gives the job"),
        ("gitlab", "CI_REGISTRY_PASSWORD", "a token the CI gives the job"),
        ("gitlab", "MENDIX_API_KEY", "which holds the step's own api-key"),
        ("jenkins", "MENDIX_PAT", "which holds the step's own pat"),
        ("jenkins", "SYSTEM_ACCESSTOKEN", "a token the CI gives the job"),
    ],
)
def test_the_steps_and_the_cis_secrets_are_never_read(
    ci: str, variable: str, why: str, sim: Simulator, workspace: Path
) -> None:
    path = write_settings(workspace, f"constants:\n  Calc.Copy: ${{{variable}}}\n")
    values = inputs(
        sim,
        environment="Acceptance",
        settings_file=path,
        pat=TOKEN,
        # allowed, and still refused
        settings_variables=f"{variable} GITHUB_*, ACTIONS_*, CI_*, MENDIX_*, INPUT_*",
    )
    env = CIS[ci](workspace, values)
    env.setdefault(variable, TOKEN)
    run = run_entrypoint(env, workspace)
    assert run.code == 2, run.stderr
    assert (
        f"'Calc.Copy' under constants: in settings file settings.yml reads the environment "
        f"variable {variable}, {why}"
    ) in run.stderr
    assert sim.requests() == []
    assert TOKEN not in everything(run)
    assert API_KEY not in everything(run)


@pytest.mark.parametrize(
    ("ci", "spelled"),
    [("github", "`with: api-key:`"), ("gitlab", "`MENDIX_API_KEY`")],
)
def test_a_variable_holding_the_api_key_is_never_read(
    ci: str, spelled: str, sim: Simulator, workspace: Path
) -> None:
    path = write_settings(workspace, "constants:\n  Calc.Copy: ${APP_KEY}\n")
    values = inputs(sim, environment="Acceptance", settings_file=path, settings_variables="APP_*")
    run = run_entrypoint(CIS[ci](workspace, values) | {"APP_KEY": API_KEY}, workspace)
    assert run.code == 2, run.stderr
    assert (
        f"reads the environment variable APP_KEY, which holds the same value as {spelled}"
    ) in run.stderr
    assert sim.requests() == []


@pytest.mark.parametrize(
    ("ci", "allowed", "spelled"),
    [
        ("github", "", "`with: settings-variables:`"),
        ("gitlab", "APP_*, ERP_PASSWORD_OLD", "`MENDIX_SETTINGS_VARIABLES`"),
        ("jenkins", "", "`MENDIX_SETTINGS_VARIABLES`"),
    ],
)
def test_a_variable_not_allowed_is_named_with_the_input_to_add_it_to(
    ci: str, allowed: str, spelled: str, sim: Simulator, workspace: Path
) -> None:
    path = write_settings(workspace, "constants:\n  Calc.Password: ${ERP_PASSWORD}\n")
    values = inputs(sim, environment="Acceptance", settings_file=path, settings_variables=allowed)
    run = run_entrypoint(CIS[ci](workspace, values) | {"ERP_PASSWORD": PASSWORD}, workspace)
    assert run.code == 2, run.stderr
    assert (
        "'Calc.Password' under constants: in settings file settings.yml reads the environment "
        f"variable ERP_PASSWORD, which {spelled} does not allow: add ERP_PASSWORD"
    ) in run.stderr
    assert sim.requests() == []
    assert PASSWORD not in everything(run)


def test_settings_variables_comes_from_a_flag_or_the_config_file_too(
    sim: Simulator, acceptance: SimEnvironment, workspace: Path
) -> None:
    path = write_settings(workspace, "constants:\n  Calc.Password: ${ERP_PASSWORD}\n")
    (workspace / "mendix.yml").write_text("settings-variables: ERP_*\n", encoding="utf-8")
    values = inputs(sim, environment="Acceptance", settings_file=path, dry_run="true")
    env = base_env(workspace.parent) | mendix_env(values) | {"ERP_PASSWORD": PASSWORD}
    for args in (["--settings-variables", "ERP_PASSWORD"], ["--config", "mendix.yml"]):
        run = run_entrypoint(env, workspace, *args)
        assert run.code == 0, run.stderr
        assert "would change constant Calc.Password: set from ${ERP_PASSWORD}" in run.stdout


@pytest.mark.parametrize(
    ("text", "allowed"),
    [
        ("", Allowed()),
        (" APP_*, ERP_PASSWORD  x_1,,", Allowed(frozenset({"ERP_PASSWORD", "x_1"}), ("APP_",))),
    ],
)
def test_settings_variables_are_names_and_prefixes(text: str, allowed: Allowed) -> None:
    assert settings_variables(text) == allowed
    assert not allowed.allows("ERP_PASSWORD_2")
    assert allowed.allows("APP_KEY") == bool(allowed.prefixes)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("*", "is '*'; name the variables a settings file may read, or prefixes such as APP_*"),
        ("APP_*, ERP-PASSWORD", "holds 'ERP-PASSWORD'; expected variable names"),
        ("A*B", "holds 'A*B'; expected variable names"),
    ],
)
def test_a_bad_settings_variables_exits_2_naming_the_input(
    value: str, message: str, sim: Simulator, workspace: Path
) -> None:
    values = inputs(sim, settings_variables=value)
    run = run_entrypoint(base_env(workspace.parent) | mendix_env(values), workspace)
    assert run.code == 2, run.stderr
    assert f"MENDIX_SETTINGS_VARIABLES {message}" in run.stderr
    assert sim.requests() == []


# -- 3. a short secret never corrupts what a program reads ---------------------------------


@pytest.mark.parametrize("ci", list(CIS))
def test_a_short_secret_never_corrupts_numbers_booleans_or_the_json(
    ci: str, sim: Simulator, service: BuildService, acceptance: SimEnvironment, workspace: Path
) -> None:
    service.apps["calc"].package_size = 123_400  # the size holds the secret 1234
    path = write_settings(
        workspace,
        "constants:\n"
        "  MyFirstModule.AuditEnabled: ${APP_FLAG}\n"
        "  MyFirstModule.PageSize: ${APP_CODE}\n"
        "  Calc.ApiToken: ${APP_WORD}\n"
        "  MyFirstModule.ApiUrl: https://api.example.com/v1234/true\n",
    )
    values = inputs(
        sim,
        environment="Acceptance",
        result_file="result.json",
        settings_file=path,
        settings_variables="APP_*",
        log_format="json",
    )
    secrets = {"APP_FLAG": "true", "APP_CODE": "1234", "APP_WORD": "success"}
    env = CIS[ci](workspace, values) | secrets
    run = run_entrypoint(env, workspace)
    assert run.code == 0, run.stderr
    assert acceptance.constants["MyFirstModule.PageSize"].value == "1234"
    document = json.loads(run.file("result.json"))
    assert (document["result"], document["deploy-result"]) == ("success", "success")
    assert (document["deployed"], document["reused"], document["rolled-back"]) == (
        True,
        False,
        False,
    )
    assert (document["artifact-size"], document["settings-changed"]) == (123_400, 4)
    assert document["settings-changes"] == [
        "constant MyFirstModule.AuditEnabled: set from ${APP_FLAG}",
        "constant MyFirstModule.PageSize: set from ${APP_CODE}",
        "constant Calc.ApiToken: set from ${APP_WORD}",
        "constant MyFirstModule.ApiUrl: set to https://api.example.com/v***/***",  # free text
    ]
    if ci == "jenkins":
        assert json.loads(run.file("mendix-build.json")) == document
    outputs = outputs_of(ci, run)
    assert (outputs["deployed"], outputs["reused"], outputs["rolled-back"]) == (
        "true",
        "false",
        "false",
    )
    assert (outputs["artifact-size"], outputs["settings-changed"]) == ("123400", "4")
    assert (outputs["result"], outputs["deploy-result"]) == ("success", "success")
    assert outputs["package-id"] == document["package-id"] != ""
    for line in run.stderr.splitlines():
        if not line.startswith(("::", "##vso[")):
            json.loads(line)  # every log line is JSON still
    closing = json.loads(run.stderr.splitlines()[-1])
    assert closing["size"] == 123_400


def test_an_id_is_masked_only_whole_and_the_steps_words_never() -> None:
    for secret in ("success", "4d2f", "snap-77"):
        REGISTRY.add(secret)
    result = StepResult(
        package_id="a1b2-4d2f-9",  # holds a secret: an id is never cut
        backup_id="snap-77",  # is one: a server echoing a secret as an id
        deploy_result="success",
        environment_url="https://calc-4d2f.example.com",
    )
    result.succeed()
    clean = result.redacted(redact)
    assert (clean.outcome, clean.deploy_result) == ("success", "success")
    assert (clean.package_id, clean.backup_id) == ("a1b2-4d2f-9", "***")
    assert clean.environment_url == "https://calc-***.example.com"
