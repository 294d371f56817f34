"""The GitLab CI/CD component (templates/mendix-build/template.yml): its two documents
against GitLab's schema, its inputs against the step's, and the component run by
gitlab-ci-local (shell executor) against `mendix-build simulate` on loopback: the build
job, then the deploy job reading the build's dotenv report."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from ci_step import cli
from ci_step.config.inputs import BY_NAME
from ci_step.report.render import DOTENV_VARIABLES
from tests import ci_formats
from tests.conftest import ENTRYPOINT, ROOT, check_jsonschema, simulating

TEMPLATE = ROOT / "templates" / "mendix-build" / "template.yml"
# Inputs of the component itself; every other input is one of the step's.
COMPONENT_ONLY = {"job-prefix", "stage", "deploy-stage", "image", "deploy-when"}
DEMO_USER, DEMO_KEY = "demo@example.com", "demo-api-key"
UNIT_TESTS_PASSWORD = "demo-unit-tests"
INPUT_REFERENCE = re.compile(r'"\$\[\[ inputs\.([a-z-]+) \]\]"')


def documents() -> tuple[dict[str, Any], dict[str, Any]]:
    header, jobs = yaml.safe_load_all(TEMPLATE.read_text("utf-8"))
    return header, jobs


def spec_inputs() -> dict[str, dict[str, Any]]:
    inputs: dict[str, dict[str, Any]] = documents()[0]["spec"]["inputs"]
    return inputs


def job(kind: str) -> dict[str, Any]:
    found: dict[str, Any] = documents()[1][f"$[[ inputs.job-prefix ]]-{kind}"]
    return found


@pytest.mark.parametrize("index", [0, 1], ids=["spec header", "jobs"])
def test_both_documents_pass_gitlab_schema(index: int, tmp_path: Path) -> None:
    document = tmp_path / "document.json"
    document.write_text(json.dumps(documents()[index]), "utf-8")
    done = check_jsonschema("vendor.gitlab-ci", document)
    assert done.returncode == 0, done.stdout + done.stderr


def test_image_tag_is_the_components_version() -> None:
    header, _ = documents()
    assert header["spec"]["component"] == ["version"]
    for kind in ("build", "deploy"):
        image = job(kind)["image"]
        assert image == {
            "name": "$[[ inputs.image ]]:$[[ component.version ]]",
            "entrypoint": [""],
        }


def test_every_input_is_typed_described_and_one_of_the_steps() -> None:
    """No secret is an input (inputs show in the pipeline's configuration); where the step
    has a default, the component's is empty (a MENDIX_* variable would hide the config
    file's key) and its description names the step's."""
    inputs = spec_inputs()
    assert "api-key" not in inputs
    assert "pat" not in inputs
    for name, spec in inputs.items():
        assert spec["type"] == "string", name
        assert len(spec["description"]) > 20, name
        if name in COMPONENT_ONLY:
            continue
        step = BY_NAME[name]
        assert not step.secret, name
        if step.default is not None:
            assert spec["default"] == "", name
            assert f"Default: {step.default}" in spec["description"], name
    assert "default" not in inputs["app-id"]  # required: it names the resource group


def _passed(job_spec: dict[str, Any]) -> dict[str, str]:
    """MENDIX_* variable -> the input whose value it carries (MENDIX_COMPONENT_* are the
    component's own: its rules read them, or the command line)."""
    found = {}
    for variable, value in job_spec["variables"].items():
        if variable.startswith("MENDIX_COMPONENT_"):
            continue
        match = INPUT_REFERENCE.fullmatch(f'"{value}"')
        if match and match.group(1) not in COMPONENT_ONLY:
            found[variable] = match.group(1)
    return found


@pytest.mark.parametrize(("kind", "reads"), [("build", cli.ALL), ("deploy", cli.DEPLOY)])
def test_each_job_passes_inputs_its_command_reads(kind: str, reads: tuple[str, ...]) -> None:
    passed = _passed(job(kind))
    assert passed
    for variable, name in passed.items():
        assert variable == BY_NAME[name].mendix_variable
        assert name in reads, f"{kind} job: mendix-build would ignore {variable}"


def test_every_step_input_of_the_component_reaches_a_job() -> None:
    used = set(_passed(job("build")).values()) | set(_passed(job("deploy")).values())
    assert used == set(spec_inputs()) - COMPONENT_ONLY - {"environment"}
    assert job("deploy")["script"] == [
        'mendix-build deploy --environment "$MENDIX_COMPONENT_ENVIRONMENT"'
    ]
    assert job("deploy")["variables"]["MENDIX_COMPONENT_ENVIRONMENT"] == (
        "$[[ inputs.environment ]]"
    )


# The step's inputs the component does not take, and why: secrets are masked CI/CD
# variables; the files the jobs keep are at fixed paths their artifacts name; what the
# build hands the deploy (package-id) or the deploy job never does (a promotion, dry run),
# and pipeline-run, which no job of the component runs.
NOT_INPUTS = {
    "api-key", "pat", "unit-tests-password", "result-file", "junit-file", "artifact-path",
    "package-id", "promote-from", "dry-run", "pipeline-id", "pipelines-url",
}  # fmt: skip


def test_every_input_of_the_build_and_deploy_is_the_components() -> None:
    """Every step input is one of the component's, but for NOT_INPUTS."""
    missing = set(BY_NAME) - set(spec_inputs()) - NOT_INPUTS
    assert not missing, missing
    assert not NOT_INPUTS - set(BY_NAME), NOT_INPUTS - set(BY_NAME)


def test_deploy_publishes_the_unit_tests_report_it_writes() -> None:
    deploy = job("deploy")
    assert deploy["variables"]["MENDIX_JUNIT_FILE"] == "mendix-unit-tests.xml"
    assert deploy["artifacts"]["reports"]["junit"] == "mendix-unit-tests.xml"
    assert "mendix-unit-tests.xml" in deploy["artifacts"]["paths"]
    assert deploy["artifacts"]["when"] == "always"
    assert "MENDIX_UNIT_TESTS_PASSWORD" not in deploy["variables"]
    assert "MENDIX_UNIT_TESTS" not in job("build")["variables"]


SAMPLES = [
    "main", "trunk", "branches/feature", "feature", "Main", "latest", "3f2a9c1", "3F2A9C1B7E4D",
    "1204", "0", "12345678901", "1.2.3", "1.2", "auto", "auto-minor", "v1.2.3", "900", "90s",
    "15m", "1h30m", "1.5h", "1h 30m", "-1", "0.5", "30", "abc", "https://deploy.mendix.com",
    "http://127.0.0.1:8080", "ftp://example.com", "calc", "Calc", "-calc", "Test",
    "Acceptance", "my env", "bad/env", "true", "false", "yes", "auto", "reuse", "fail",
    "rebuild", "json", "console", "50", "200", "1000", "APP_*, DB_URL", "ff92c0b0-3ab8-4865",
]  # fmt: skip
# What each check must refuse, so that none of them lets everything through.
REFUSED = {
    "app-id": "Calc",
    "branch": "feature",
    "revision": "abc",
    "version": "v1.2.3",
    "timeout": "1h 30m",
    "poll-interval": "-1",
    "base-url": "ftp://example.com",
    "project-id": "-x",
    "environment": "bad/env",
    "log-tail": "1000",
    "download": "yes",
    "backup": "yes",
    "on-existing": "replace",
    "settings-variables": "APP;DB",
}


def component_accepts(spec: dict[str, Any], value: str) -> bool:
    if "options" in spec:
        return value in spec["options"]
    return re.fullmatch(spec.get("regex", ".*"), value) is not None


def step_accepts(name: str, value: str, workspace: Path) -> bool:
    parse = BY_NAME[name].parse
    assert parse is not None
    try:
        parse(value, workspace)
    except ValueError:
        return False
    return True


def test_input_checks_never_refuse_what_the_step_takes(tmp_path: Path) -> None:
    """GitLab checks `options:` and `regex:` before the pipeline starts: they may be
    stricter than the step about spelling (the canonical one only) and leave ranges to the
    step, but never refuse a value the step would take."""
    checked = {n: s for n, s in spec_inputs().items() if "regex" in s or "options" in s}
    assert set(REFUSED) <= set(checked)
    for name, spec in checked.items():
        if name in COMPONENT_ONLY:
            continue
        if "default" in spec:
            assert component_accepts(spec, ""), f"{name}: empty means the step's default"
        for value in SAMPLES:
            if step_accepts(name, value, tmp_path):
                assert component_accepts(spec, value), f"{name}: {value!r}"
        if name in REFUSED:
            assert not component_accepts(spec, REFUSED[name]), name
            assert not step_accepts(name, REFUSED[name], tmp_path), name
    for value in ("1.4.$CI_PIPELINE_IID", "${VERSION}", "$VERSION"):
        assert component_accepts(spec_inputs()["version"], value), value
    assert component_accepts(spec_inputs()["revision"], "$MENDIX_REVISION")


def test_deploy_is_serialised_per_app_and_environment_and_never_interrupted() -> None:
    deploy = job("deploy")
    assert deploy["resource_group"] == "mendix-$[[ inputs.app-id ]]-$[[ inputs.environment ]]"
    assert deploy["interruptible"] is False
    assert deploy["environment"]["name"] == "$[[ inputs.app-id ]]/$[[ inputs.environment ]]"
    assert deploy["needs"] == [{"job": "$[[ inputs.job-prefix ]]-build", "artifacts": True}]
    assert "resource_group" not in job("build")


# ---------------------------------------------------------------------------------------
# gitlab-ci-local


@dataclass
class Project:
    path: Path
    bin: Path
    env: dict[str, str]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["gitlab-ci-local", *args],
            cwd=self.path,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def report(self, job_name: str) -> dict[str, str]:
        path = self.artifacts(job_name) / ".gitlab-ci-reports" / "dotenv" / "mendix-build.env"
        return ci_formats.gitlab_dotenv(path.read_bytes())

    def artifacts(self, job_name: str) -> Path:
        return self.path / ".gitlab-ci-local" / "artifacts" / job_name


def _git(path: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=ci@example.com", "-c", "user.name=ci", *args],
        cwd=path,
        check=True,
        capture_output=True,
        timeout=60,
    )


def make_project(root: Path, node_bin: Path, includes: list[dict[str, str]]) -> Project:
    """The component's own project, as GitLab tests a component: it includes itself at
    its commit ($CI_SERVER_FQDN/$CI_PROJECT_PATH/...@$CI_COMMIT_SHA), which gitlab-ci-local
    resolves from the checkout (its remote names the project)."""
    path = root / "mendix-build"
    shutil.copytree(ROOT / "templates", path / "templates")
    config: dict[str, Any] = {
        "stages": ["build", "deploy"],
        # gitlab-ci-local's shell executor gives a job with an image the CI_PROJECT_DIR of
        # the container it does not start; a runner sets it to where the job runs.
        "default": {"before_script": ['export CI_PROJECT_DIR="$PWD"']},
        "include": [
            {
                "component": "$CI_SERVER_FQDN/$CI_PROJECT_PATH/mendix-build@$CI_COMMIT_SHA",
                "inputs": inputs,
            }
            for inputs in includes
        ],
    }
    (path / ".gitlab-ci.yml").write_text(yaml.safe_dump(config, sort_keys=False), "utf-8")
    _git(path, "init", "-q", "-b", "main")
    _git(path, "remote", "add", "origin", "git@gitlab.example.com:acme/mendix-build.git")
    _git(path, "add", "-A")
    _git(path, "commit", "-q", "-m", "component")
    _git(path, "update-ref", "refs/remotes/origin/main", "HEAD")
    _git(path, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main")
    bin_dir = root / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "mendix-build"  # the image's `mendix-build` on PATH
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{ENTRYPOINT}" mendix-build "$@"\n')
    shim.chmod(0o755)
    home = root / "home"
    home.mkdir()
    env = {
        "PATH": f"{bin_dir}:{node_bin}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(home),
        "LANG": "C.UTF-8",
    }
    for name in ("PYTHONPATH", "VIRTUAL_ENV"):
        if name in os.environ:
            env[name] = os.environ[name]
    return Project(path, bin_dir, env)


# gitlab-ci-local runs jobs with GITLAB_CI=false; a runner says true, and the step writes
# its dotenv report only in GitLab. The jobs run in copies of the project (shell isolation),
# so the deploy sees the build's files only through its artifacts.
GITLAB_CI_LOCAL = (
    "--force-shell-executor",
    "--shell-isolation",
    "--ignore-predefined-vars",
    "GITLAB_CI",
    "--variable",
    "GITLAB_CI=true",
    "--no-color",
)


FAST = ("--queued", "0.1", "--building", "0.2", "--uploading", "0.1", "--start-seconds", "0.3")


def test_component_builds_then_deploys_what_it_built(node_tools: Path, tmp_path: Path) -> None:
    with simulating(*FAST, "--local-app-urls", "--unit-test-seconds", "0.1") as (
        simulator,
        base,
    ):
        project = make_project(
            tmp_path,
            node_tools,
            [
                {
                    "app-id": "calc",
                    "version": "1.4.$CI_PIPELINE_ID",
                    "revision": "latest",
                    "environment": "Acceptance",
                    "deploy-when": "on_success",
                    "base-url": base,
                    "poll-interval": "0.1",
                    "unit-tests": "true",
                }
            ],
        )
        run = project.run(
            *GITLAB_CI_LOCAL,
            "--variable",
            f"MENDIX_USERNAME={DEMO_USER}",
            "--variable",
            f"MENDIX_API_KEY={DEMO_KEY}",
            "--variable",
            f"MENDIX_UNIT_TESTS_PASSWORD={UNIT_TESTS_PASSWORD}",
        )
        assert run.returncode == 0, run.stdout + run.stderr
        running = requests.get(
            f"{base}/api/1/apps/calc/environments/Acceptance/package",
            headers={"Mendix-Username": DEMO_USER, "Mendix-ApiKey": DEMO_KEY},
            timeout=10,
        ).json()
    assert "PASS  mendix-build" in run.stdout
    assert "PASS  mendix-deploy" in run.stdout
    built = project.report("mendix-build")
    assert built["MENDIX_RESULT"] == "success"
    assert re.fullmatch(r"1\.4\.[0-9]+", built["MENDIX_VERSION"])  # $CI_PIPELINE_ID expanded
    mda = project.artifacts("mendix-build") / built["MENDIX_ARTIFACT_PATH"]
    assert mda.stat().st_size == int(built["MENDIX_ARTIFACT_SIZE"])
    assert (project.artifacts("mendix-build") / "mendix-build.json").is_file()

    # the deploy took the package id from the build's dotenv report: nothing built twice
    deployed = project.report("mendix-deploy")
    assert deployed["MENDIX_DEPLOY_RESULT"] == "success"
    assert deployed["MENDIX_ENVIRONMENT"] == "Acceptance"
    assert deployed["MENDIX_PACKAGE_ID"] == built["MENDIX_PACKAGE_ID"]
    assert running["PackageId"] == built["MENDIX_PACKAGE_ID"]
    requests_seen = [line.rsplit(" ", 1)[0] for line in simulator.stderr.splitlines()]
    assert requests_seen.count("POST /api/1/apps/calc/packages") == 1
    assert "POST /api/1/apps/calc/environments/Acceptance/transport" in requests_seen
    assert DEMO_KEY not in run.stdout + run.stderr
    # the app's unit tests after the deploy: counted in its dotenv report (within GitLab's
    # 20 variables), the JUnit report kept for the Tests tab
    assert deployed["MENDIX_JUNIT_FILE"] == "mendix-unit-tests.xml"
    assert int(deployed["MENDIX_TESTS"]) > 0
    assert deployed["MENDIX_TEST_FAILURES"] == "0"
    assert len(deployed) <= DOTENV_VARIABLES
    report = project.artifacts("mendix-deploy") / "mendix-unit-tests.xml"
    assert "<testsuite" in report.read_text("utf-8")
    assert any(seen.endswith("/unittests/start") for seen in requests_seen)
    assert UNIT_TESTS_PASSWORD not in run.stdout + run.stderr


def _listed(project: Project) -> dict[str, dict[str, Any]]:
    run = project.run("--list-json")
    assert run.returncode == 0, run.stdout + run.stderr
    return {entry["name"]: entry for entry in json.loads(run.stdout)}


def _preview(project: Project) -> dict[str, Any]:
    run = project.run("--preview")
    assert run.returncode == 0, run.stdout + run.stderr
    preview: dict[str, Any] = yaml.safe_load(run.stdout.split("---", 1)[1])
    return preview


def test_component_per_app_with_manual_deploy_by_default(node_tools: Path, tmp_path: Path) -> None:
    """Two apps in one pipeline: each its own jobs and resource group; a deploy waits for
    someone to run it (and does not block the pipeline meanwhile); no environment, no
    deploy job; the image is the component's own release."""
    project = make_project(
        tmp_path,
        node_tools,
        [
            {"app-id": "calc", "environment": "Acceptance"},
            {"app-id": "inventory", "job-prefix": "inventory"},
        ],
    )
    listed = _listed(project)
    assert listed["mendix-deploy"]["when"] == "manual"
    assert listed["mendix-deploy"]["allow_failure"] is True
    assert listed["inventory-build"]["when"] == "on_success"
    assert listed["inventory-deploy"]["when"] == "never"
    preview = _preview(project)
    assert preview["mendix-deploy"]["resource_group"] == "mendix-calc-Acceptance"
    assert preview["mendix-deploy"]["environment"]["name"] == "calc/Acceptance"
    assert preview["inventory-build"]["variables"]["MENDIX_APP_ID"] == "inventory"
    # included at a commit, gitlab-ci-local gives that commit as the component's version
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=project.path, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert preview["mendix-build"]["image"]["name"] == f"ghcr.io/your-org/mendix-build:{head}"


def test_component_refuses_a_bad_input_before_any_job(node_tools: Path, tmp_path: Path) -> None:
    project = make_project(tmp_path, node_tools, [{"app-id": "calc", "version": "v1.2.3"}])
    run = project.run("--list")
    assert "`version` input: `v1.2.3` does not match required regex" in run.stdout + run.stderr
