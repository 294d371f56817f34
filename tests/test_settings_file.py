"""The settings file (constants and scheduled events): read whole, every problem at once,
``${NAME}`` read from the environment as a secret that is never shown."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ci_step.config.inputs import INPUTS
from ci_step.config.parsers import settings_variables
from ci_step.config.settings_file import MAX_SETTINGS_BYTES, Variables, load
from ci_step.config.validate import RawInput, validate
from ci_step.domain.app_settings import Settings, Value
from ci_step.errors import ConfigError
from ci_step.report.ci_env import CiEnv, Platform
from ci_step.secrets import REGISTRY, redact
from ci_step.simulator import Simulator
from tests.conftest import base_env, github_env, inputs, mendix_env, run_entrypoint

SECRET = "pay-9f2c-SECRET-value-4411"


def write(workspace: Path, text: str, name: str = "settings.yml") -> Path:
    path = workspace / name
    path.write_text(text, encoding="utf-8")
    return path


def job_variables(environ: dict[str, str] | None, allowed: str = "") -> Variables:
    """The job's variables; the ones ``allowed`` (settings-variables), by default every one
    of ``environ``."""
    environ = environ or {}
    return Variables(environ, settings_variables(allowed or " ".join(environ)))


def loaded(path: Path, environ: dict[str, str] | None = None) -> Settings:
    settings, problems = load(path, path.name, job_variables(environ))
    assert problems == []
    assert settings is not None
    return settings


def problems_of(path: Path, environ: dict[str, str] | None = None, allowed: str = "") -> list[str]:
    settings, problems = load(path, path.name, job_variables(environ, allowed))
    assert settings is None
    assert problems
    return problems


def test_constants_and_events_are_read(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "constants:\n"
        "  MyModule.ApiUrl: https://api.example.com\n"
        "  MyModule.Retries: 3\n"
        "  MyModule.Flag: false\n"
        "  MyModule.Empty: ''\n"
        "scheduled-events:\n"
        "  MyModule.Cleanup: enabled\n"
        "  Other_Module.Sync: DISABLED\n",
    )
    settings = loaded(path)
    assert settings.constants == {
        "MyModule.ApiUrl": Value("https://api.example.com"),
        "MyModule.Retries": Value("3"),  # text, as written: not turned into a number
        "MyModule.Flag": Value("false"),
        "MyModule.Empty": Value(""),
    }
    assert settings.events == {"MyModule.Cleanup": "Enabled", "Other_Module.Sync": "Disabled"}
    assert settings.secrets == ()
    assert settings.path == "settings.yml"


@pytest.mark.parametrize("text", ["", "# nothing yet\n", "constants:\nscheduled-events:\n"])
def test_an_empty_file_asks_for_nothing(text: str, tmp_path: Path) -> None:
    settings = loaded(write(tmp_path, text))
    assert (settings.constants, settings.events) == ({}, {})


def test_a_reference_is_read_from_the_environment_as_a_secret(tmp_path: Path) -> None:
    path = write(tmp_path, "constants:\n  MyModule.ApiKey: ${PAYMENT_KEY}\n")
    settings = loaded(path, {"PAYMENT_KEY": SECRET})
    value = settings.constants["MyModule.ApiKey"]
    assert (value.text, value.secret, value.written) == (SECRET, True, "${PAYMENT_KEY}")
    assert SECRET not in repr(value) + repr(settings)
    assert settings.secrets == (SECRET,)
    # Registered at once: anything printed later is redacted.
    assert redact(f"sent {SECRET}") == "sent ***"


def test_every_problem_at_once_each_naming_the_file_and_the_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "constant:\n"
        "  MyModule.A: x\n"
        "constants:\n"
        "  NoModule: x\n"
        "  MyModule.List: [a, b]\n"
        "  MyModule.Unset: ${NOT_SET_ANYWHERE}\n"
        "  MyModule.Blank: ${BLANK}\n"
        f"  MyModule.Partial: prefix-${{PAYMENT_KEY}}-{SECRET}\n"
        '  MyModule.Control: "a\\x00b"\n'
        "  MyModule.Twice: one\n"
        "  mymodule.twice: two\n"
        "scheduled-events:\n"
        "  MyModule.Cleanup: sometimes\n"
        "  MyModule.Nested: {a: b}\n"
        "extra: 1\n",
    )
    problems = problems_of(path, {"BLANK": "", "PAYMENT_KEY": SECRET}, "NOT_SET_ANYWHERE BLANK")
    where = "in settings file settings.yml"
    expected = [
        f"'mymodule.twice' {where} is written twice (again at line 11); keep one",
        f"unknown key 'constant' {where} (did you mean 'constants'?)",
        f"'NoModule' under constants: {where} is not a name of the form Module.Name",
        f"'MyModule.List' under constants: {where} must be a single value, not a list",
        f"'MyModule.Unset' under constants: {where} reads the environment variable "
        "NOT_SET_ANYWHERE, which is not set",
        f"'MyModule.Blank' under constants: {where} reads the environment variable BLANK, "
        "which is empty",
        f"'MyModule.Partial' under constants: {where} holds '${{' but is not exactly ${{NAME}}",
        f"'MyModule.Control' under constants: {where} holds control characters",
        f"'MyModule.Cleanup' under scheduled-events: {where} must be Enabled or Disabled",
        f"'MyModule.Nested' under scheduled-events: {where} must be a single value, not a mapping",
        f"unknown key 'extra' {where} (known keys: constants, scheduled-events)",
    ]
    assert len(problems) == len(expected)
    for problem, start in zip(problems, expected, strict=True):
        assert problem.startswith(start), (problem, start)
    text = "\n".join(problems)
    assert SECRET not in text
    assert "sometimes" not in text  # values are never echoed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a\n- b\n", "must hold a mapping with constants: and scheduled-events:"),
        ("constants: [a]\n", "'constants' in settings file settings.yml must be a mapping"),
        ("constants:\n  A.B: [unclosed\n", "is not valid YAML at line"),
        ("---\na: 1\n---\nb: 2\n", "is not valid YAML"),
        ("constants:\n  ? [a, b]\n  : c\n", "is not valid YAML"),
        ("constants:\n  A.B: \x07bell\n", "is not valid YAML"),
    ],
)
def test_broken_files(text: str, message: str, tmp_path: Path) -> None:
    (problem,) = problems_of(write(tmp_path, text))
    assert message in problem
    assert "settings file settings.yml" in problem


def test_missing_and_oversized_files(tmp_path: Path) -> None:
    assert problems_of(tmp_path / "settings.yml") == ["settings file settings.yml does not exist"]
    big = write(tmp_path, "constants:\n" + "#" * MAX_SETTINGS_BYTES)
    (problem,) = problems_of(big)
    assert f"at most {MAX_SETTINGS_BYTES} are read" in problem
    binary = tmp_path / "settings.yml"
    binary.write_bytes(b"constants:\n  A.B: \xff\n")
    assert problems_of(binary) == [
        "settings file settings.yml cannot be read: it is not UTF-8 text"
    ]


# -- through validation: with the other inputs, when there is a deploy ----------------


def raw_inputs(**values: str) -> dict[str, RawInput]:
    base = {
        "app-id": "calc",
        "username": "u@example.com",
        "api-key": "key-1234",
        "revision": "abcdef1",
        "version": "1.0.0",
    } | {k.replace("_", "-"): v for k, v in values.items()}
    return {s.name: RawInput(base.get(s.name, s.default), s.name) for s in INPUTS}


def ci_in(workspace: Path, **variables: str) -> CiEnv:
    return CiEnv(Platform.GITLAB, {"CI_PROJECT_DIR": str(workspace)} | variables)


def test_validation_reads_the_file_of_a_deploy(tmp_path: Path) -> None:
    (tmp_path / "deploy").mkdir()
    write(tmp_path, "constants:\n  MyModule.ApiKey: ${PAYMENT_KEY}\n", "deploy/s.yml")
    ci = ci_in(tmp_path, PAYMENT_KEY=SECRET)
    config = validate(
        raw_inputs(
            settings_file="deploy/s.yml", environment="Acceptance", settings_variables="PAYMENT_*"
        ),
        ci,
    )
    assert config.settings_file == tmp_path / "deploy" / "s.yml"
    assert config.settings is not None
    assert config.settings.path == "deploy/s.yml"
    assert config.settings.constants["MyModule.ApiKey"] == Value(SECRET, "PAYMENT_KEY")
    assert SECRET not in repr(config)
    # Without a deploy the file is not read: a build-only job sharing the config file
    # need not have the variables it reads.
    build_only = validate(raw_inputs(settings_file="missing.yml"), ci)
    assert build_only.settings is None


def test_file_problems_come_with_the_other_input_problems(tmp_path: Path) -> None:
    write(tmp_path, "constants:\n  MyModule.ApiKey: ${UNSET_VARIABLE}\nextras: 1\n")
    with pytest.raises(ConfigError) as caught:
        validate(
            raw_inputs(
                settings_file="settings.yml",
                environment="Acceptance",
                version="one",
                settings_variables="UNSET_VARIABLE",
            ),
            ci_in(tmp_path),
        )
    problems = caught.value.problems
    assert problems[0].startswith("version is 'one'")
    assert "reads the environment variable UNSET_VARIABLE, which is not set" in problems[1]
    assert "unknown key 'extras' in settings file settings.yml" in problems[2]
    assert len(problems) == 3


# -- through the entrypoint: exit 2, no request; a secret is masked, never printed -----


def test_a_bad_settings_file_exits_2_before_any_request(sim: Simulator, workspace: Path) -> None:
    write(workspace, f"constants:\n  MyModule.Key: ${{PAYMENT_KEY}}\n  Bad: {SECRET}\n")
    values = inputs(
        sim,
        environment="Acceptance",
        settings_file="settings.yml",
        settings_variables="PAYMENT_KEY",
    )
    env = base_env(workspace.parent) | mendix_env(values) | {"PAYMENT_KEY": SECRET}
    run = run_entrypoint(env, workspace)
    assert run.code == 2, run.stderr
    assert "'Bad' under constants: in settings file settings.yml is not a name" in run.stderr
    assert SECRET not in run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    assert sim.requests() == []


def test_a_secret_from_the_settings_file_is_masked_on_github(
    sim: Simulator, workspace: Path
) -> None:
    write(workspace, "constants:\n  MyModule.Key: ${PAYMENT_KEY}\n")
    values = inputs(
        sim,
        environment="Acceptance",
        settings_file="settings.yml",
        settings_variables="PAYMENT_KEY",
        dry_run="true",
    )
    env = github_env(workspace, values) | {"PAYMENT_KEY": SECRET}
    run = run_entrypoint(env, workspace)
    assert run.code == 0, run.stderr
    assert f"::add-mask::{SECRET}" in run.stderr.splitlines()  # commands go to stderr
    assert SECRET not in run.stdout + run.stderr.replace(f"::add-mask::{SECRET}", "")
    for path in workspace.parent.rglob("*"):
        if path.is_file() and path.name != "settings.yml":
            assert SECRET not in path.read_text("utf-8", errors="replace"), path


@pytest.fixture(autouse=True)
def _forget_secrets() -> Iterator[None]:
    yield
    REGISTRY.clear()
