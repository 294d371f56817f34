"""The Jenkins shared library step (vars/mendixBuild.groovy): it compiles, its parameters are
the step's inputs, and call() run in plain Groovy with every Pipeline step stubbed
(tests/jenkins/harness.groovy) runs what a Jenkins user expects and returns the outputs,
for a success, a failed build and failed deploys.

Needs `groovy` (Debian's, 2.4): skipped without it, except where
MENDIX_BUILD_REQUIRE_GROOVY is set (.ci/run installs it and sets that)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ci_step import cli
from ci_step.config.inputs import BY_NAME, INPUTS
from ci_step.errors import DeployFailed, UnitTestsFailed
from ci_step.report.publish import JSON_NAME, PROPERTIES_NAME
from tests.conftest import ROOT

LIBRARY = ROOT / "vars" / "mendixBuild.groovy"
HELP = ROOT / "vars" / "mendixBuild.txt"
HARNESS = ROOT / "tests" / "jenkins" / "harness.groovy"
IMAGE = "ghcr.io/your-org/mendix-build:1"


def _groovy_env() -> dict[str, str]:
    """Debian's groovy looks for Java in JAVA_HOME or /usr/lib/jvm/default-java; a machine
    whose Java came without the default-java link gets the JAVA_HOME of the java on PATH."""
    env = dict(os.environ)
    java = shutil.which("java")
    if "JAVA_HOME" not in env and not Path("/usr/lib/jvm/default-java").exists() and java:
        env["JAVA_HOME"] = str(Path(java).resolve().parents[1])
    return env


@pytest.fixture(scope="module")
def groovy() -> dict[str, str]:
    if shutil.which("groovy") is None:
        if os.environ.get("MENDIX_BUILD_REQUIRE_GROOVY"):
            pytest.fail("groovy is not installed (apt-get install groovy)")
        pytest.skip("groovy is not installed (apt-get install groovy)")
    return _groovy_env()


def camel(name: str) -> str:
    first, *rest = name.split("-")
    return first + "".join(part.capitalize() for part in rest)


def test_library_compiles(groovy: dict[str, str], tmp_path: Path) -> None:
    done = subprocess.run(
        ["groovyc", "-d", str(tmp_path), str(LIBRARY)],
        capture_output=True,
        text=True,
        env=groovy,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "mendixBuild.class").is_file()


def _groovy_list(name: str) -> list[str]:
    source = LIBRARY.read_text("utf-8")
    match = re.search(rf"@Field final List<String> {name} = \[(.*?)\]", source, re.DOTALL)
    assert match, name
    return re.findall(r"'([A-Za-z]+)'", match.group(1))


def _map_keys(name: str, end: str) -> list[str]:
    source = LIBRARY.read_text("utf-8")
    block = source[source.index(f"@Field final Map {name} = [") : source.index(end)]
    return re.findall(r"^    (\w+):", block, re.MULTILINE)


def _options() -> list[str]:
    return _map_keys("OPTIONS", "]\n\ndef call")


def test_parameters_are_the_steps_inputs_but_the_secrets() -> None:
    expected = [camel(spec.name) for spec in INPUTS if not spec.secret]
    assert _groovy_list("INPUTS") == expected
    source = LIBRARY.read_text("utf-8")
    assert f"PROPERTIES = '{PROPERTIES_NAME}'" in source
    assert f"RESULT_FILE = '{JSON_NAME}'" in source


def test_secrets_are_the_steps_secret_inputs() -> None:
    """A secret input the library did not know would be refused as an unknown parameter
    instead of pointing to its credential."""
    expected = [camel(spec.name) for spec in INPUTS if spec.secret]
    assert _map_keys("SECRETS", "]\n\n// This step's own parameters") == expected


def test_exit_codes_and_report_are_the_steps() -> None:
    source = LIBRARY.read_text("utf-8")
    assert f"DEPLOY_FAILED = {DeployFailed.exit_code}\n" in source
    assert f"UNIT_TESTS_FAILED = {UnitTestsFailed.exit_code}\n" in source
    assert f"JUNIT_FILE = '{BY_NAME['junit-file'].default}'\n" in source


def test_help_names_every_parameter() -> None:
    text = HELP.read_text("utf-8")
    for name in [*_groovy_list("INPUTS"), *_options()]:
        assert f"<code>{name}</code>" in text, name
    assert "@Library('mendix-build@v1') _" in text


# ---------------------------------------------------------------------------------------
# call() in plain Groovy

SUCCESS = {
    "MENDIX_RESULT": "success",
    "MENDIX_PACKAGE_ID": "pkg-1",
    "MENDIX_VERSION": "1.4.2",
    "MENDIX_ARTIFACT_PATH": "calc-1.4.2.mda",
    "MENDIX_DEPLOY_RESULT": "skipped",
    "MENDIX_ROLLED_BACK": "false",
}
BUILD_ARGS = {"appId": "calc", "version": "1.4.2", "revision": "3f2a9c1b7e4d"}
DEPLOY_ARGS = {**BUILD_ARGS, "environment": "Acceptance", "rollback": True}


def _deploy_failed(rolled_back: bool) -> dict[str, str]:
    return SUCCESS | {
        "MENDIX_ARTIFACT_PATH": "",
        "MENDIX_ENVIRONMENT": "Acceptance",
        "MENDIX_DEPLOY_RESULT": "failure",
        "MENDIX_ROLLED_BACK": "true" if rolled_back else "false",
    }


UNIT_TEST_ARGS = {
    **BUILD_ARGS,
    "environment": "Test",
    "unitTests": True,
    "unitTestsTimeout": "20m",
    "unitTestsPasswordCredentialsId": "calc-unit-tests",
    "junit": True,
}
UNIT_TESTS_PASSED = SUCCESS | {
    "MENDIX_ENVIRONMENT": "Test",
    "MENDIX_DEPLOY_RESULT": "success",
    "MENDIX_TESTS": "12",
    "MENDIX_TEST_FAILURES": "0",
    "MENDIX_JUNIT_FILE": "mendix-unit-tests.xml",
}


SCENARIOS: dict[str, dict[str, Any]] = {
    "success": {"args": BUILD_ARGS, "exitCode": 0, "properties": SUCCESS},
    "build failed": {
        "args": BUILD_ARGS,
        "exitCode": 1,
        "properties": SUCCESS | {"MENDIX_RESULT": "failure", "MENDIX_ARTIFACT_PATH": ""},
    },
    "deploy failed": {"args": DEPLOY_ARGS, "exitCode": 7, "properties": _deploy_failed(False)},
    "deploy rolled back": {
        "args": DEPLOY_ARGS | {"timeoutMinutes": 40},
        "exitCode": 7,
        "properties": _deploy_failed(True),
    },
    "no outputs": {"args": BUILD_ARGS, "exitCode": 2, "properties": None},
    "from PATH": {
        "args": BUILD_ARGS
        | {
            "image": None,
            "username": "ci@example.com",
            "apiKeyCredentialsId": "mendix-key",
            "patCredentialsId": "mendix-pat",
            "dryRun": False,
        },
        "exitCode": 0,
        "properties": SUCCESS,
    },
    "not propagated": {
        "args": BUILD_ARGS | {"propagate": False},
        "exitCode": 1,
        "properties": SUCCESS | {"MENDIX_RESULT": "failure", "MENDIX_ARTIFACT_PATH": ""},
    },
    "timeout unstable": {
        "args": BUILD_ARGS | {"unstableOn": [4]},
        "exitCode": 4,
        "properties": SUCCESS | {"MENDIX_RESULT": "timeout", "MENDIX_ARTIFACT_PATH": ""},
    },
    "named lock": {
        "args": DEPLOY_ARGS | {"lock": "calc-production"},
        "exitCode": 0,
        "properties": SUCCESS,
    },
    "no lock": {"args": DEPLOY_ARGS | {"lock": False}, "exitCode": 0, "properties": SUCCESS},
    "misspelt": {"args": {"app-id": "calc"}, "exitCode": 0, "properties": SUCCESS},
    "typo": {"args": {"verson": "1.4.2"}, "exitCode": 0, "properties": SUCCESS},
    "secret as text": {"args": {"apiKey": "k3y"}, "exitCode": 0, "properties": SUCCESS},
    "unit tests pass": {
        "args": UNIT_TEST_ARGS,
        "exitCode": 0,
        "properties": UNIT_TESTS_PASSED,
    },
    "unit tests fail": {
        "args": UNIT_TEST_ARGS,
        "exitCode": 8,
        "properties": UNIT_TESTS_PASSED | {"MENDIX_RESULT": "failure", "MENDIX_TEST_FAILURES": "2"},
    },
    "unit tests fail the build": {
        "args": UNIT_TEST_ARGS | {"unstableOn": []},
        "exitCode": 8,
        "properties": UNIT_TESTS_PASSED | {"MENDIX_RESULT": "failure", "MENDIX_TEST_FAILURES": "2"},
    },
    "unit tests command": {
        "args": {
            "appId": "calc",
            "environment": "Test",
            "command": "unit-tests",
            "junit": True,
            "junitFile": "reports/it's.xml",
            "unitTestsPasswordCredentialsId": "calc-unit-tests",
        },
        "exitCode": 0,
        "properties": UNIT_TESTS_PASSED | {"MENDIX_DEPLOY_RESULT": "skipped"},
    },
    "pipeline run": {
        "args": {
            "command": "pipeline-run",
            "projectId": "ff92c0b0-3ab8-4865",
            "pipelineId": "test-pipeline",
            "patCredentialsId": "mendix-pat",
        },
        "exitCode": 0,
        "properties": {"MENDIX_RESULT": "success", "MENDIX_PIPELINE_STATUS": "SUCCEEDED"},
    },
    "unknown command": {"args": {"command": "build"}, "exitCode": 0, "properties": SUCCESS},
    "password as text": {
        "args": {"unitTestsPassword": "pa55"},
        "exitCode": 0,
        "properties": SUCCESS,
    },
    "deploy of an unknown app": {
        "args": {"environment": "Test", "config": "mendix/calc.yml"},
        "exitCode": 0,
        "properties": SUCCESS,
    },
}


@pytest.fixture(scope="module")
def runs(groovy: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every scenario, run in one Groovy process."""
    scenarios = tmp_path_factory.mktemp("jenkins") / "scenarios.json"
    scenarios.write_text(json.dumps(list(SCENARIOS.values())), "utf-8")
    done = subprocess.run(
        ["groovy", str(HARNESS), str(scenarios), str(LIBRARY)],
        capture_output=True,
        text=True,
        env=groovy,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads(done.stdout.strip().splitlines()[-1])
    return dict(zip(SCENARIOS, results, strict=True))


def steps(run: dict[str, Any]) -> list[str]:
    return [event["step"] for event in run["events"]]


def event(run: dict[str, Any], step: str) -> dict[str, Any]:
    (found,) = [e for e in run["events"] if e["step"] == step]
    return dict(found)


def step_run(run: dict[str, Any]) -> dict[str, Any]:
    (found,) = [e for e in run["events"] if e["step"] == "sh" and e.get("returnStatus")]
    return dict(found)


def test_success_runs_the_image_with_the_credential_and_returns_the_outputs(
    runs: dict[str, Any],
) -> None:
    run = runs["success"]
    assert steps(run) == [
        "docker.image.inside",
        "withEnv",
        "withCredentials",
        "sh",  # rm -f the properties of an earlier run
        "sh",
        "fileExists",
        "readProperties",
        "archiveArtifacts",
        "archiveArtifacts",
    ]
    assert event(run, "docker.image.inside")["image"] == IMAGE
    assert run["events"][3]["script"] == f"rm -f {PROPERTIES_NAME}"
    sh = step_run(run)
    assert sh["script"] == "mendix-build"
    assert sh["env"] == {
        "MENDIX_APP_ID": "calc",
        "MENDIX_REVISION": "3f2a9c1b7e4d",
        "MENDIX_VERSION": "1.4.2",
        "MENDIX_USERNAME": "user-of-mendix-api",
        "MENDIX_API_KEY": "secret-of-mendix-api",
    }
    assert event(run, "withCredentials")["bindings"] == [
        {
            "kind": "usernamePassword",
            "credentialsId": "mendix-api",
            "usernameVariable": "MENDIX_USERNAME",
            "passwordVariable": "MENDIX_API_KEY",
        }
    ]
    archived = [e for e in run["events"] if e["step"] == "archiveArtifacts"]
    assert archived == [
        {"step": "archiveArtifacts", "artifacts": "calc-1.4.2.mda", "fingerprint": True},
        {"step": "archiveArtifacts", "artifacts": JSON_NAME, "allowEmptyArchive": True},
    ]
    assert run["returned"] == SUCCESS | {"exitCode": 0}
    assert "lock" not in steps(run)  # a build alone locks nothing


def test_build_failure_is_an_error_after_the_outputs_are_kept(runs: dict[str, Any]) -> None:
    run = runs["build failed"]
    assert run["error"] == "mendix-build exited 1 (failure)"
    assert steps(run)[-2:] == ["archiveArtifacts", "error"]  # mendix-build.json kept
    assert event(run, "archiveArtifacts")["artifacts"] == JSON_NAME


def test_deploy_failure_is_an_error_and_the_deploy_holds_a_lock(runs: dict[str, Any]) -> None:
    run = runs["deploy failed"]
    assert steps(run)[0] == "lock"
    assert event(run, "lock")["resource"] == "mendix-calc-Acceptance"
    assert step_run(run)["env"]["MENDIX_ENVIRONMENT"] == "Acceptance"
    assert step_run(run)["env"]["MENDIX_ROLLBACK"] == "true"
    assert run["error"] == (
        "mendix-build: the deploy to Acceptance failed (exit 7); package pkg-1 is fine and "
        "can be deployed again"
    )
    assert "unstable" not in steps(run)


def test_deploy_rolled_back_is_unstable_and_returns_the_outputs(runs: dict[str, Any]) -> None:
    """The environment runs what it ran before: nothing is broken, the new package is not
    there. UNSTABLE says so, and the pipeline goes on with the outputs."""
    run = runs["deploy rolled back"]
    assert "error" not in run
    assert event(run, "unstable")["message"].startswith(
        "mendix-build: the deploy to Acceptance failed (exit 7); rolled back: Acceptance runs "
        "the package it ran before"
    )
    assert run["returned"]["exitCode"] == 7
    assert run["returned"]["MENDIX_ROLLED_BACK"] == "true"
    # the lock first (its wait is not the step's), then the image, then the time limit
    assert steps(run)[:3] == ["lock", "docker.image.inside", "timeout"]
    assert event(run, "timeout") == {"step": "timeout", "time": 40, "unit": "MINUTES"}


def test_no_outputs_are_never_an_earlier_runs(runs: dict[str, Any]) -> None:
    run = runs["no outputs"]
    assert "readProperties" not in steps(run)
    assert run["error"] == "mendix-build exited 2 (no outputs)"


def test_without_an_image_the_agents_mendix_build_runs_with_secret_texts(
    runs: dict[str, Any],
) -> None:
    run = runs["from PATH"]
    assert "docker.image.inside" not in steps(run)
    assert step_run(run)["script"] == "mendix-build"
    assert event(run, "withCredentials")["bindings"] == [
        {"kind": "string", "credentialsId": "mendix-key", "variable": "MENDIX_API_KEY"},
        {"kind": "string", "credentialsId": "mendix-pat", "variable": "MENDIX_PAT"},
    ]
    env = step_run(run)["env"]
    assert env["MENDIX_USERNAME"] == "ci@example.com"
    assert env["MENDIX_DRY_RUN"] == "false"
    assert env["MENDIX_PAT"] == "secret-of-mendix-pat"


def test_propagate_false_and_unstable_exit_codes(runs: dict[str, Any]) -> None:
    quiet = runs["not propagated"]
    assert "error" not in quiet
    assert "unstable" not in steps(quiet)
    assert quiet["returned"]["exitCode"] == 1
    late = runs["timeout unstable"]
    assert event(late, "unstable")["message"] == "mendix-build exited 4 (timeout)"
    assert late["returned"]["MENDIX_RESULT"] == "timeout"


def test_lock_can_be_named_or_left_out(runs: dict[str, Any]) -> None:
    assert event(runs["named lock"], "lock")["resource"] == "calc-production"
    assert "lock" not in steps(runs["no lock"])
    unknown = runs["deploy of an unknown app"]
    assert unknown["error"].startswith("mendixBuild: a deploy locks its app and environment")
    assert "sh" not in steps(unknown)


@pytest.mark.parametrize(
    ("scenario", "message"),
    [
        ("misspelt", "mendixBuild: 'app-id' is not a parameter (did you mean 'appId'?)"),
        ("typo", "mendixBuild: 'verson' is not a parameter (did you mean 'version'?)"),
        (
            "password as text",
            "mendixBuild: unitTestsPassword is a secret: give the id of a Jenkins credential "
            "(unitTestsPasswordCredentialsId)",
        ),
        (
            "unknown command",
            "mendixBuild: command 'build' is not one of run, deploy, unit-tests, pipeline-run",
        ),
        (
            "secret as text",
            "mendixBuild: apiKey is a secret: give the id of a Jenkins credential "
            "(credentialsId or apiKeyCredentialsId)",
        ),
    ],
)
def test_bad_parameters_stop_before_anything_runs(
    runs: dict[str, Any], scenario: str, message: str
) -> None:
    run = runs[scenario]
    assert run["error"] == message
    assert steps(run) == ["error"]


# ---------------------------------------------------------------------------------------
# The app's unit tests and Mendix Pipelines runs


def test_unit_tests_pass_with_the_password_bound_and_the_report_published(
    runs: dict[str, Any],
) -> None:
    """The password comes from a "Secret text" credential; the report an earlier build left
    is removed before the run and this run's published after it, allowed to be empty (a
    passing run's report holds no test case)."""
    run = runs["unit tests pass"]
    assert "error" not in run
    assert "unstable" not in steps(run)
    assert {
        "kind": "string",
        "credentialsId": "calc-unit-tests",
        "variable": "MENDIX_UNIT_TESTS_PASSWORD",
    } in event(run, "withCredentials")["bindings"]
    env = step_run(run)["env"]
    assert env["MENDIX_UNIT_TESTS_PASSWORD"] == "secret-of-calc-unit-tests"
    assert env["MENDIX_UNIT_TESTS"] == "true"
    assert env["MENDIX_UNIT_TESTS_TIMEOUT"] == "20m"
    assert step_run(run)["script"] == "mendix-build"
    assert run["events"][4]["script"] == f"rm -f {PROPERTIES_NAME} 'mendix-unit-tests.xml'"
    assert steps(run).index("sh") < steps(run).index("junit")
    assert event(run, "junit") == {
        "step": "junit",
        "testResults": "mendix-unit-tests.xml",
        "allowEmptyResults": True,
    }
    assert run["returned"]["MENDIX_TESTS"] == "12"


def test_failed_unit_tests_make_the_build_unstable_after_the_report(
    runs: dict[str, Any],
) -> None:
    """Exit 8: the deploy succeeded and tests failed. Like `junit`'s own convention, the
    build is UNSTABLE, not FAILURE, and the pipeline goes on with the outputs; unstableOn
    without 8 fails it."""
    run = runs["unit tests fail"]
    assert "error" not in run
    assert steps(run)[-2:] == ["junit", "unstable"]
    assert event(run, "unstable")["message"] == (
        "mendix-build: 2 of 12 unit tests failed (exit 8); the deploy to Test succeeded; "
        "the failed tests are in mendix-unit-tests.xml"
    )
    assert run["returned"]["exitCode"] == 8
    strict = runs["unit tests fail the build"]
    assert strict["error"].startswith("mendix-build: 2 of 12 unit tests failed (exit 8)")
    assert steps(strict)[-2:] == ["junit", "error"]


def test_commands_unit_tests_and_pipeline_run(runs: dict[str, Any]) -> None:
    tests = runs["unit tests command"]
    assert step_run(tests)["script"] == "mendix-build unit-tests"
    assert tests["events"][4]["script"] == f"rm -f {PROPERTIES_NAME} 'reports/it'\\''s.xml'"
    assert event(tests, "junit")["testResults"] == "reports/it's.xml"
    assert step_run(tests)["env"]["MENDIX_JUNIT_FILE"] == "reports/it's.xml"
    pipeline = runs["pipeline run"]
    assert step_run(pipeline)["script"] == "mendix-build pipeline-run"
    assert step_run(pipeline)["env"]["MENDIX_PIPELINE_ID"] == "test-pipeline"
    assert step_run(pipeline)["env"]["MENDIX_PAT"] == "secret-of-mendix-pat"
    assert "lock" not in steps(pipeline)
    assert "junit" not in steps(pipeline)


def test_commands_are_the_steps() -> None:
    assert set(_groovy_list("COMMANDS")) <= set(cli.cli.commands)
