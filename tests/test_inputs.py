"""Every input source, their precedence, and validation (exit 2, every problem, no request)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ci_step.config.inputs import BY_NAME, INPUTS
from ci_step.config.parsers import shown
from ci_step.config.validate import RawInput, validate
from ci_step.domain.durations import parse_duration
from ci_step.errors import ConfigError
from ci_step.report.ci_env import CiEnv, Platform
from ci_step.simulator import Simulator
from tests import ci_formats
from tests.conftest import API_KEY, base_env, gitlab_env, inputs, mendix_env, run_entrypoint


def posted(sim: Simulator) -> dict[str, str]:
    (request,) = sim.requests("api", "POST")
    body: dict[str, str] = json.loads(request.body)
    return body


def write_config(workspace: Path, text: str) -> Path:
    path = workspace / "mendix.yml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def env_without_version(sim: Simulator, workspace: Path) -> dict[str, str]:
    values = inputs(sim, download="false")
    del values["version"]
    return base_env(workspace.parent) | mendix_env(values)


def test_file_value_used_when_nothing_else(
    sim: Simulator, workspace: Path, env_without_version: dict[str, str]
) -> None:
    config = write_config(workspace, "version: 1.0.1\n")
    run = run_entrypoint(env_without_version | {"MENDIX_CONFIG": str(config)}, workspace)
    assert run.code == 0, run.stderr
    assert posted(sim)["Version"] == "1.0.1"


def test_environment_beats_file(
    sim: Simulator, workspace: Path, env_without_version: dict[str, str]
) -> None:
    config = write_config(workspace, "version: 1.0.1\n")
    env = env_without_version | {"MENDIX_CONFIG": str(config), "MENDIX_VERSION": "1.0.2"}
    assert run_entrypoint(env, workspace).code == 0
    assert posted(sim)["Version"] == "1.0.2"


def test_github_input_beats_mendix_variable_and_empty_counts_as_unset(
    sim: Simulator, workspace: Path, env_without_version: dict[str, str]
) -> None:
    env = env_without_version | {"MENDIX_VERSION": "1.0.2", "INPUT_VERSION": "1.0.3"}
    assert run_entrypoint(env, workspace).code == 0
    env["INPUT_VERSION"] = ""
    env["MENDIX_VERSION"] = "1.0.4"
    assert run_entrypoint(env, workspace).code == 0
    assert [json.loads(r.body)["Version"] for r in sim.requests("api", "POST")] == [
        "1.0.3",
        "1.0.4",
    ]


def test_flag_beats_everything(
    sim: Simulator, workspace: Path, env_without_version: dict[str, str]
) -> None:
    config = write_config(workspace, "version: 1.0.1\n")
    env = env_without_version | {
        "MENDIX_CONFIG": str(config),
        "MENDIX_VERSION": "1.0.2",
        "INPUT_VERSION": "1.0.3",
    }
    run = run_entrypoint(env, workspace, "--version", "1.0.4")
    assert run.code == 0, run.stderr
    assert posted(sim)["Version"] == "1.0.4"


@pytest.mark.parametrize("name", ["INPUT_ARTIFACT-PATH", "INPUT_ARTIFACT_PATH"])
def test_hyphenated_and_underscored_github_inputs(
    name: str, sim: Simulator, workspace: Path
) -> None:
    env = base_env(workspace.parent) | mendix_env(inputs(sim)) | {name: "dist/calc.mda"}
    run = run_entrypoint(env, workspace, "run")
    assert run.code == 0, run.stderr
    assert (workspace / "dist" / "calc.mda").is_file()


def test_defaults_apply(sim: Simulator, workspace: Path) -> None:
    env = base_env(workspace.parent) | mendix_env(inputs(sim, download="false"))
    assert run_entrypoint(env, workspace).code == 0
    body = posted(sim)
    assert body["Branch"] == "main"
    assert body["Description"] == "Built by mendix-build [revision 3f2a9c1b7e]"


def test_config_file_holds_most_inputs(sim: Simulator, workspace: Path) -> None:
    config = write_config(
        workspace,
        "app-id: calc\nusername: ci-bot@example.com\nbranch: branches/feature\n"
        "revision: a1b2c3d4e5f6\nversion: 2.0.0\n"
        "poll-interval: 0.1\ndownload: false\ndescription: from the file\n",
    )
    # An API root other than Mendix's comes from the job itself, never from a file.
    env = base_env(workspace.parent) | {"MENDIX_API_KEY": API_KEY, "MENDIX_BASE_URL": sim.base_url}
    run = run_entrypoint(env, workspace, "--config", str(config))
    assert run.code == 0, run.stderr
    assert posted(sim) == {
        "Branch": "branches/feature",
        "Revision": "a1b2c3d4e5f6",
        "Version": "2.0.0",
        "Description": "from the file [revision a1b2c3d4e5f6]",
    }


def test_yaml_values_are_read_as_text(sim: Simulator, workspace: Path) -> None:
    # 0123456 would be an octal number to a YAML 1.1 reader; it must stay a Git hash.
    config = write_config(workspace, "revision: 0123456\ndownload: False\n")
    values = inputs(sim)
    del values["revision"]
    env = base_env(workspace.parent) | mendix_env(values) | {"MENDIX_CONFIG": str(config)}
    run = run_entrypoint(env, workspace)
    assert run.code == 0, run.stderr
    assert posted(sim)["Revision"] == "0123456"
    assert not list(workspace.glob("*.mda"))


def test_every_problem_reported_at_once_named_as_spelled(sim: Simulator, workspace: Path) -> None:
    config = write_config(workspace, "verison: 1.0.0\napi-key: hunter22\nbranch: [main]\n")
    env = base_env(workspace.parent) | {
        "INPUT_APP-ID": "Calc",
        "MENDIX_USERNAME": "ci-bot@example.com",
        "MENDIX_API_KEY": API_KEY,
        "MENDIX_REVISION": "not-a-hash",
        "MENDIX_BASE_URL": "http://deploy.example.com",
        "MENDIX_CONFIG": str(config),
    }
    run = run_entrypoint(env, workspace, "--timeout", "soon", "--poll-interval", "0")
    assert run.code == 2
    err = run.stderr
    assert "Traceback" not in err
    assert f"unknown key 'verison' in config file {config} (did you mean 'version'" in err
    assert "'api-key' in config file" in err
    assert "secrets do not belong in files" in err
    assert "'branch' in config file" in err
    assert "must be a single value, not a list" in err
    assert "`with: app-id:` must be lower case: use 'calc'" in err
    assert "MENDIX_REVISION is 'not-a-hash'" in err
    assert "--timeout is 'soon'" in err
    assert "--poll-interval is '0'" in err
    assert "MENDIX_BASE_URL is 'http://deploy.example.com'; plain http" in err
    assert "version is required" in err
    assert "hunter22" not in err
    assert sim.requests() == []


def test_missing_required_inputs_are_listed(sim: Simulator, workspace: Path) -> None:
    run = run_entrypoint(base_env(workspace.parent), workspace)
    assert run.code == 2
    for name in ("app-id", "username", "api-key", "revision", "version"):
        assert f"{name} is required" in run.stderr
    assert "MENDIX_API_KEY" in run.stderr


def test_bad_api_key_is_not_echoed(sim: Simulator, workspace: Path) -> None:
    secret = "abc def-with-space"
    env = base_env(workspace.parent) | mendix_env(inputs(sim, api_key=secret))
    run = run_entrypoint(env, workspace)
    assert run.code == 2
    assert "MENDIX_API_KEY holds spaces" in run.stderr
    assert secret not in run.stderr + run.stdout
    assert sim.requests() == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a\n- b\n", "must hold a mapping"),
        ("a: [unclosed\n", "is not valid YAML at line"),
        ("{ {", "is not valid YAML"),
        ("---\na: 1\n---\nb: 2\n", "is not valid YAML"),
    ],
)
def test_broken_config_files(text: str, message: str, sim: Simulator, workspace: Path) -> None:
    config = write_config(workspace, text)
    env = base_env(workspace.parent) | mendix_env(inputs(sim)) | {"MENDIX_CONFIG": str(config)}
    run = run_entrypoint(env, workspace)
    assert run.code == 2
    assert message in run.stderr
    assert "Traceback" not in run.stderr
    assert sim.requests() == []


def test_missing_config_file(sim: Simulator, workspace: Path) -> None:
    env = base_env(workspace.parent) | mendix_env(inputs(sim))
    run = run_entrypoint(env, workspace, "--config", "nope.yml")
    assert run.code == 2
    assert "config file nope.yml does not exist" in run.stderr


def test_unknown_flag_is_a_usage_error(sim: Simulator, workspace: Path) -> None:
    run = run_entrypoint(base_env(workspace.parent), workspace, "--app-idd", "calc")
    assert run.code == 2
    assert "--app-id" in run.stderr  # click suggests the close match
    assert sim.requests() == []


# -- the checks themselves, in-process -------------------------------------------------


def raw_inputs(**values: str) -> dict[str, RawInput]:
    base = {
        "app-id": "calc",
        "username": "u@example.com",
        "api-key": "key-1234",
        "revision": "abcdef1",
        "version": "1.0.0",
    }
    base.update({k.replace("_", "-"): v for k, v in values.items()})
    return {s.name: RawInput(base.get(s.name, s.default), s.name) for s in INPUTS}


LOCAL = CiEnv(Platform.LOCAL, {})


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("900", 900), ("90s", 90), ("15m", 900), ("1h", 3600), ("1h30m", 5400), ("0.5", 0.5)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "-5", "1d", "m5", "5m1h", "1h1h", "1 h", "1.5.2s"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match=r".*"):
        parse_duration(text)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:9", "https://x.example"]
)
def test_base_urls_accepted(url: str) -> None:
    assert validate(raw_inputs(base_url=url), LOCAL).base_url == url


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1",
        "ftp://deploy.mendix.com",
        "https://user:pw@deploy.mendix.com",
        "https://deploy.mendix.com/?x=1",
        "deploy.mendix.com",
        "https://",
    ],
)
def test_base_urls_refused(url: str) -> None:
    with pytest.raises(ConfigError, match="base-url"):
        validate(raw_inputs(base_url=url), LOCAL)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("branch", "feature", "did you mean 'branches/feature'"),
        ("revision", "abc", "expected a Git commit hash"),
        ("revision", "0", "expected a Git commit hash"),
        ("version", "1.0.0-beta", "expected major.minor.patch"),
        ("download", "yes", "expected true or false"),
        ("log-format", "xml", "expected one of auto, console, json"),
        ("description", "a\x00b", "control characters"),
        ("timeout", "200h", "is longer than 7 days"),
        ("result-file", "r" * 300, "not a usable path (File name too long)"),
    ],
)
def test_value_checks(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        validate(raw_inputs(**{name: value}), LOCAL)
    (problem,) = caught.value.problems
    assert problem.startswith(f"{name} ")
    assert message in problem


def test_artifact_path_default_and_directory_refused(tmp_path: Path) -> None:
    ci = CiEnv(Platform.GITLAB, {"CI_PROJECT_DIR": str(tmp_path)})
    assert validate(raw_inputs(), ci).artifact_for("1.0.0") == tmp_path / "calc-1.0.0.mda"
    with pytest.raises(ConfigError, match="a directory"):
        validate(raw_inputs(artifact_path="."), ci)


# -- inputs that reach outputs, and paths, are checked before any request --------------


def via(source: str, name: str, value: str) -> tuple[dict[str, str], tuple[str, ...], str]:
    """(environment, arguments, the label a message must use) for one input."""
    spec = BY_NAME[name]
    if source == "flag":
        return {}, (spec.flag, value), spec.flag
    return {spec.mendix_variable: value}, (), spec.mendix_variable


@pytest.mark.parametrize("source", ["flag", "env"])
@pytest.mark.parametrize("value", [" calc.mda", "calc.mda ", "out/app.mda\u00a0"])
def test_artifact_path_with_spaces_around_is_refused_first(
    source: str, value: str, sim: Simulator, workspace: Path
) -> None:
    extra, args, label = via(source, "artifact-path", value)
    env = gitlab_env(workspace, inputs(sim)) | extra
    run = run_entrypoint(env, workspace, *args)
    assert run.code == 2, run.stderr
    assert sim.requests() == []
    assert f"{label} is {shown(value)}, which starts or ends with spaces" in run.stderr
    assert "GitLab's dotenv report strips them" in run.stderr
    assert "line break" not in run.stderr
    dotenv = ci_formats.gitlab_dotenv((workspace / "mendix-build.env").read_bytes())
    assert dotenv["MENDIX_RESULT"] == "error"
    assert list(workspace.rglob("*.mda")) == []


def test_artifact_path_too_long_for_the_outputs_is_refused_first(
    sim: Simulator, workspace: Path
) -> None:
    value = "/".join(["d" * 200] * 6) + "/app.mda"
    env = gitlab_env(workspace, inputs(sim, artifact_path=value))
    run = run_entrypoint(env, workspace)
    assert run.code == 2, run.stderr
    assert sim.requests() == []
    assert "MENDIX_ARTIFACT_PATH is longer than 1024 bytes" in run.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("version", " 1.0.0"),
        ("version", "1.0.0 "),
        ("revision", "abcdef1 "),
        ("environment", " Acceptance"),
        ("environment", "Acceptance "),
        ("package-id", "abc "),
        ("branch", " main"),
    ],
)
def test_other_inputs_that_reach_outputs_are_checked_first(
    name: str, value: str, sim: Simulator, workspace: Path
) -> None:
    env = gitlab_env(workspace, inputs(sim, **{name: value}))
    run = run_entrypoint(env, workspace)
    assert run.code == 2, run.stderr
    assert sim.requests() == []
    assert f"{BY_NAME[name].mendix_variable} is {shown(value)}" in run.stderr


def outside_values(workspace: Path) -> dict[str, str]:
    elsewhere = workspace.parent / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    (workspace / "link").symlink_to(elsewhere, target_is_directory=True)
    return {
        "relative": "../x.out",
        "absolute": str(elsewhere / "x.out"),
        "dotdot-inside-first": "sub/../../x.out",
        "symlink": "link/x.out",
    }


@pytest.mark.parametrize("form", ["relative", "absolute", "dotdot-inside-first", "symlink"])
@pytest.mark.parametrize("source", ["flag", "env"])
@pytest.mark.parametrize("name", ["artifact-path", "result-file"])
def test_path_inputs_outside_the_workspace_are_refused_first(
    name: str, source: str, form: str, sim: Simulator, workspace: Path
) -> None:
    value = outside_values(workspace)[form]
    extra, args, label = via(source, name, value)
    env = base_env(workspace.parent) | mendix_env(inputs(sim)) | extra
    run = run_entrypoint(env, workspace, *args)
    assert run.code == 2, run.stderr
    assert sim.requests() == []
    assert f"{label} is {shown(value)}, outside the workspace {workspace.resolve()}" in run.stderr
    assert "in a container nothing else is shared with the job" in run.stderr
    assert "Traceback" not in run.stderr
    assert [p.name for p in workspace.parent.rglob("x.out")] == []


def test_paths_resolved_inside_the_workspace_are_accepted(workspace: Path) -> None:
    ci = CiEnv(Platform.GITLAB, {"CI_PROJECT_DIR": str(workspace)})
    (workspace / "dist").mkdir()
    (workspace / "latest").symlink_to(workspace / "dist", target_is_directory=True)
    config = validate(
        raw_inputs(artifact_path="out/../app.mda", result_file="latest/result.json"), ci
    )
    assert config.artifact_path == workspace / "app.mda"
    assert config.shown_path(config.artifact_for("1.0.0")) == "app.mda"
    assert config.result_file == workspace / "dist" / "result.json"
    absolute = validate(raw_inputs(artifact_path=str(workspace / "a" / "b.mda")), ci)
    assert absolute.shown_path(absolute.artifact_for("1.0.0")) == "a/b.mda"


# -- backup, rollback, settings-file, promote-from ------------------------------------


@pytest.mark.parametrize("source", ["flag", "env"])
@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("backup", "sometimes", "is 'sometimes'; expected auto (a snapshot before deploying"),
        ("rollback", "yes", "is 'yes'; expected true or false"),
        ("settings-file", "../settings.yml", "is '../settings.yml', outside the workspace"),
        ("settings-file", ".", "is '.', a directory; name a file"),
        ("promote-from", "Accept/ance", "is 'Accept/ance'; expected Test, Acceptance"),
    ],
)
def test_deploy_safety_inputs_are_checked_first(
    source: str, name: str, value: str, message: str, sim: Simulator, workspace: Path
) -> None:
    extra, args, label = via(source, name, value)
    env = base_env(workspace.parent) | mendix_env(inputs(sim, environment="Acceptance")) | extra
    run = run_entrypoint(env, workspace, *args)
    assert run.code == 2, run.stderr
    assert f"{label} {message}" in run.stderr
    assert "Traceback" not in run.stderr
    assert sim.requests() == []


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"promote-from": "Acceptance"},
            "MENDIX_PROMOTE_FROM deploys the package another environment runs: "
            "set MENDIX_ENVIRONMENT to the environment to deploy it to",
        ),
        (
            {"promote-from": "acceptance", "environment": "Acceptance"},
            "MENDIX_PROMOTE_FROM is 'acceptance', the environment deployed to "
            "(MENDIX_ENVIRONMENT): name the environment whose package to deploy",
        ),
        (
            {"promote-from": "Acceptance", "environment": "Test", "package-id": "abc"},
            "MENDIX_PROMOTE_FROM and MENDIX_PACKAGE_ID both name the package to deploy",
        ),
        (
            {"promote-from": "Acceptance", "environment": "Production"},
            "MENDIX_ENVIRONMENT is Production; deploying there needs "
            "`MENDIX_ALLOW_PRODUCTION=true`",
        ),
    ],
)
def test_promotion_rules(
    values: dict[str, str], message: str, sim: Simulator, workspace: Path
) -> None:
    env = base_env(workspace.parent) | mendix_env(inputs(sim) | values)
    run = run_entrypoint(env, workspace)
    assert run.code == 2, run.stderr
    assert message in run.stderr
    assert sim.requests() == []


def test_promotion_needs_no_revision_or_version() -> None:
    raw = raw_inputs(promote_from="Acceptance", environment="Test")
    raw["revision"] = RawInput(None, "revision")
    raw["version"] = RawInput(None, "version")
    config = validate(raw, LOCAL)
    assert (config.promote_from, config.environment) == ("Acceptance", "Test")
    assert (config.revision, config.version, config.download) == ("", "", False)
    # the deploy command needs a package id, unless it is promoted
    needs = frozenset({"app-id", "username", "api-key", "environment", "package-id"})
    assert validate(raw, LOCAL, needs).package_id == ""
    del raw["promote-from"]
    with pytest.raises(ConfigError, match="package-id is required"):
        validate(raw, LOCAL, needs)


def test_deploy_safety_defaults() -> None:
    config = validate(raw_inputs(), LOCAL)
    assert (config.backup, config.rollback, config.settings_file, config.promote_from) == (
        "auto",
        False,
        None,
        "",
    )
    assert config.settings is None
    assert validate(raw_inputs(backup="TRUE", rollback="True"), LOCAL).backup == "true"


def test_deploy_safety_inputs_from_the_config_file(sim: Simulator, workspace: Path) -> None:
    config = write_config(workspace, "backup: never\nrollback: maybe\npromote-from: ' Test'\n")
    env = (
        base_env(workspace.parent)
        | mendix_env(inputs(sim, environment="Acceptance"))
        | {"MENDIX_CONFIG": str(config)}
    )
    run = run_entrypoint(env, workspace)
    assert run.code == 2, run.stderr
    assert f"backup (in {config}) is 'never'" in run.stderr
    assert f"rollback (in {config}) is 'maybe'" in run.stderr
    assert f"promote-from (in {config}) is ' Test'" in run.stderr
    assert sim.requests() == []
