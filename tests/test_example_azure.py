"""examples/azure-pipelines.yml: its conventions (container jobs on the image, secrets
mapped through `env:`, outputs never pasted into a script, the deploys locked, the
acceptance deploy approved and behind the unit tests on Test), and its jobs run step by
step the way the agent runs them, the deploy jobs taking the package the build job made
through an output variable and the unit-test job publishing its JUnit report."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from ci_step.config.inputs import INPUTS
from ci_step.report.result import OUTPUT_NAMES
from ci_step.simulator import BuildService, Simulator
from ci_step.simulator.environments import SimEnvironment
from ci_step.simulator.unit_tests import suites_of
from tests import ci_formats, junit_readers
from tests.conftest import API_KEY, USER, app_on_test, azure_env, with_command_on_path

ROOT = Path(__file__).resolve().parent.parent
AZURE_FILE = ROOT / "examples" / "azure-pipelines.yml"
IMAGE = "registry.example.com/tools/mendix-build:1"
MACRO = re.compile(r"\$\(([A-Za-z0-9_.-]+)\)")
UNIT_TESTS_PASSWORD = "example-unit-tests-pw"
JUNIT_FILE = next(spec.default for spec in INPUTS if spec.name == "junit-file")
SECRETS = [spec.mendix_variable for spec in INPUTS if spec.secret]
STAGE_OUTPUT = re.compile(
    r"\$\[\s*stageDependencies\.(\w+)\.(\w+)\.outputs\['(\w+)\.(\w+)\.([\w-]+)'\]\s*\]"
)


def pipeline() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(AZURE_FILE.read_text("utf-8"))
    return document


def stage(name: str) -> dict[str, Any]:
    (found,) = [s for s in pipeline()["stages"] if s["stage"] == name]
    assert isinstance(found, dict)
    return found


def jobs() -> list[dict[str, Any]]:
    return [job for s in pipeline()["stages"] for job in s["jobs"]]


def steps_of(job: dict[str, Any]) -> list[dict[str, Any]]:
    """A job's steps; a deployment job's are its runOnce strategy's deploy hook."""
    hook = job["strategy"]["runOnce"]["deploy"] if "deployment" in job else job
    steps: list[dict[str, Any]] = hook["steps"]
    return steps


def runs_the_step(step: Mapping[str, Any]) -> bool:
    return str(step.get("script", "")).split(" ", 1)[0] == "mendix-build"


def env_name(variable: str) -> str:
    """The environment variable the agent makes of a pipeline variable."""
    return variable.replace(".", "_").replace(" ", "_").upper()


# -- conventions -----------------------------------------------------------------------------


def test_every_job_running_the_step_is_a_container_job_on_the_image() -> None:
    running = [job for job in jobs() if any(runs_the_step(s) for s in steps_of(job))]
    assert len(running) == 3
    for job in running:
        assert job["container"]["image"] == IMAGE
        assert "timeoutInMinutes" in job


def test_secrets_come_from_the_variable_group_mapped_through_env() -> None:
    """A secret variable never reaches a step's environment by itself: every step running
    mendix-build maps the key in its env:, the unit-test step the password too, and
    nothing else holds either."""
    assert {"group": "mendix"} in pipeline()["variables"]
    mapped = dict.fromkeys(SECRETS, 0)
    for job in jobs():
        for step in steps_of(job):
            if runs_the_step(step):
                assert step["env"]["MENDIX_API_KEY"] == "$(MENDIX_API_KEY)"
            if step.get("env", {}).get("MENDIX_UNIT_TESTS") == "true":
                assert step["env"]["MENDIX_UNIT_TESTS_PASSWORD"] == "$(MENDIX_UNIT_TESTS_PASSWORD)"
            for name in SECRETS:
                mapped[name] += step.get("env", {}).get(name) == f"$({name})"
    text = AZURE_FILE.read_text("utf-8")
    for name in SECRETS:
        assert text.count(f"$({name})") == mapped[name], name
    assert (mapped["MENDIX_API_KEY"], mapped["MENDIX_UNIT_TESTS_PASSWORD"]) == (3, 1)
    header = text.split("\ntrigger:", 1)[0]
    assert "MENDIX_UNIT_TESTS_PASSWORD" in header


def test_outputs_reach_scripts_through_env_never_pasted_into_them() -> None:
    for job in jobs():
        for step in steps_of(job):
            if "script" in step:
                assert "$(" not in step["script"], step["script"]
                assert "$[" not in step["script"]


def test_output_variables_do_not_shadow_inputs_in_later_steps() -> None:
    """A later step of the job sees output <name> of step <step> as <STEP>_<NAME>: a step
    named `mendix` would hand the next mendix-build MENDIX_ENVIRONMENT and the like."""
    inputs = {spec.mendix_variable for spec in INPUTS}
    for job in jobs():
        for step in steps_of(job):
            if runs_the_step(step):
                seen = {env_name(f"{step['name']}.{output}") for output in OUTPUT_NAMES}
                assert seen.isdisjoint(inputs), step["name"]


def test_builds_run_as_a_matrix_over_apps_and_keep_each_package() -> None:
    (build,) = stage("Build")["jobs"]
    legs = build["strategy"]["matrix"]
    assert len(legs) >= 2
    assert all(leg["MENDIX_APP_ID"] == name for name, leg in legs.items())
    (publish,) = [s for s in build["steps"] if "publish" in s]
    assert publish["publish"].endswith("/$(mendixBuild.artifact-path)")
    assert publish["artifact"] == "$(MENDIX_APP_ID)-mda"


def test_the_deploy_waits_for_an_approval_and_never_runs_beside_another() -> None:
    deploy = stage("Deploy")
    # the package from Build's output variable, once its unit tests passed on Test
    assert deploy["dependsOn"] == ["Build", "Test"]
    assert deploy["condition"].startswith("and(succeeded(), ")
    # with the environment's "Exclusive lock" check: runs wait in order, none is cancelled
    assert deploy["lockBehavior"] == "sequential"
    (job,) = deploy["jobs"]
    assert job["environment"] == "mendix-acceptance"  # its checks: Approvals, Exclusive lock
    header = AZURE_FILE.read_text("utf-8").split("\ntrigger:", 1)[0]
    for word in ('"mendix-acceptance"', '"Approvals"', '"Exclusive lock"', "sequential"):
        assert word in header, word


def unit_test_job() -> dict[str, Any]:
    (job,) = stage("Test")["jobs"]
    assert isinstance(job, dict)
    return job


def unit_test_step() -> dict[str, Any]:
    (step,) = [s for s in steps_of(unit_test_job()) if runs_the_step(s)]
    return step


def test_calc_is_deployed_to_test_with_its_unit_tests_one_run_at_a_time() -> None:
    test = stage("Test")
    assert test["dependsOn"] == "Build"
    assert test["lockBehavior"] == "sequential"
    job = unit_test_job()
    assert job["environment"] == "mendix-test"  # its check: Exclusive lock
    assert job["variables"]["MENDIX_APP_ID"] == "calc"
    step = unit_test_step()
    assert step["script"] == "mendix-build deploy"
    assert step["env"]["MENDIX_ENVIRONMENT"] == "Test"
    assert step["env"]["MENDIX_UNIT_TESTS"] == "true"
    assert step["env"]["MENDIX_PACKAGE_ID"] == "$(CALC_PACKAGE_ID)"
    header = AZURE_FILE.read_text("utf-8").split("\ntrigger:", 1)[0]
    assert '"mendix-test"' in header


def test_the_junit_report_is_published_after_a_failure_and_when_it_holds_no_case() -> None:
    """The step fails with exit 8 when a test fails: the publishing runs all the same; a
    passing run's report holds no test case, and a failed deploy writes none."""
    steps = steps_of(unit_test_job())
    (publish,) = [s for s in steps if s.get("task") == "PublishTestResults@2"]
    assert steps.index(publish) > steps.index(unit_test_step())
    assert publish["condition"] in ("always()", "succeededOrFailed()")
    inputs = publish["inputs"]
    assert inputs["testResultsFormat"] == "JUnit"
    assert inputs["testResultsFiles"] == JUNIT_FILE
    assert "MENDIX_JUNIT_FILE" not in unit_test_step()["env"]  # the default, published here
    assert inputs["searchFolder"] == "$(Build.SourcesDirectory)"  # the step's workspace
    assert inputs["failTaskOnMissingResultsFile"] is False
    assert inputs.get("failTaskOnMissingTests", False) is False


# -- the jobs, step by step ------------------------------------------------------------------


@dataclass
class Job:
    """One run of a job: its variables (outputs join them as <step>.<name>), what it said."""

    workspace: Path
    variables: dict[str, str]
    secrets: dict[str, str]
    outputs: dict[str, str] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    published: list[str] = field(default_factory=list)  # the test reports, as read


def expand(value: str, variables: Mapping[str, str]) -> str:
    """Macro syntax as the agent expands it: a `$(name)` it knows (any case) is replaced, one
    it does not know is left as written."""
    known = {name.lower(): text for name, text in variables.items()}
    return MACRO.sub(lambda m: known.get(m.group(1).lower(), m.group(0)), value)


def run_script(job: Job, step: Mapping[str, Any]) -> int:
    """A script step in the container: every non-secret variable as an environment variable,
    then the step's env: (macros expanded, secrets among them); stdout and stderr read for
    commands as the agent reads them."""
    known = job.variables | job.outputs
    env = azure_env(job.workspace, {})
    env |= {env_name(name): value for name, value in known.items()}
    env |= {k: expand(str(v), known | job.secrets) for k, v in step.get("env", {}).items()}
    env = with_command_on_path(env, job.workspace.parent / "bin")
    done = subprocess.run(
        ["sh", "-c", step["script"]],
        env=env,
        cwd=job.workspace,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    job.log.append(done.stdout + done.stderr)
    commands = ci_formats.azure_commands(done.stdout) + ci_formats.azure_commands(done.stderr)
    for name, value in ci_formats.azure_output_variables(commands).items():
        job.outputs[f"{step['name']}.{name}"] = value
    return done.returncode


def publish_test_results(job: Job, step: Mapping[str, Any]) -> int:
    """PublishTestResults@2: the files found under searchFolder are read; none found is a
    warning unless failTaskOnMissingResultsFile."""
    inputs = step["inputs"]
    assert inputs["testResultsFormat"] == "JUnit"
    folder = Path(expand(inputs["searchFolder"], job.variables | job.outputs))
    found = sorted(folder.glob(inputs["testResultsFiles"]))
    job.published += [path.read_text("utf-8") for path in found]
    return 1 if not found and inputs.get("failTaskOnMissingResultsFile") else 0


def runs_now(step: Mapping[str, Any], failed: bool) -> bool:
    """A step's condition as the agent reads it, the job not cancelled: succeeded() by
    default."""
    condition = step.get("condition", "succeeded()")
    assert condition in ("succeeded()", "succeededOrFailed()", "always()"), condition
    return condition != "succeeded()" or not failed


def run_step(job: Job, step: Mapping[str, Any]) -> int:
    if "script" in step:
        return run_script(job, step)
    if "publish" in step:
        path = Path(expand(step["publish"], job.variables | job.outputs))
        assert path.is_file(), path
        assert "$(" not in expand(step["artifact"], job.variables)
        return 0
    if step.get("task") == "PublishTestResults@2":
        return publish_test_results(job, step)
    assert step in ({"checkout": "none"}, {"download": "none"}), step
    return 0


def run_job(job: Job, steps: list[dict[str, Any]]) -> int:
    """The job's steps in order: the exit code of the first that failed, else 0."""
    code = 0
    for step in steps:
        if runs_now(step, failed=code != 0):
            done = run_step(job, step)
            code = code or done
    return code


def group_variables(sim: Simulator) -> tuple[dict[str, str], dict[str, str]]:
    """The variable group: (plain variables, secret ones); the API root and the polling are
    the simulator's."""
    plain = {
        "MENDIX_USERNAME": USER,
        "MENDIX_BASE_URL": sim.base_url,
        "MENDIX_POLL_INTERVAL": "0.1",
    }
    return plain, {"MENDIX_API_KEY": API_KEY, "MENDIX_UNIT_TESTS_PASSWORD": UNIT_TESTS_PASSWORD}


def pipeline_variables(plain: Mapping[str, str], workspace: Path) -> dict[str, str]:
    predefined = {"Build.BuildId": "812", "Build.SourcesDirectory": str(workspace)}
    variables = dict(predefined) | dict(plain)
    for item in pipeline()["variables"]:
        if "name" in item:
            variables[item["name"]] = expand(str(item["value"]), variables)
    return variables


def resolve_stage_output(expression: str, builds: Mapping[str, Job]) -> str:
    """`$[ stageDependencies.<stage>.<job>.outputs['<matrix entry>.<step>.<name>'] ]`,
    each part checked against the pipeline."""
    match = STAGE_OUTPUT.fullmatch(expression)
    assert match, expression
    stage_name, job_name, leg, step, name = match.groups()
    (build,) = stage(stage_name)["jobs"]
    assert build["job"] == job_name
    assert leg in build["strategy"]["matrix"]
    assert any(s.get("name") == step for s in build["steps"])
    return builds[leg].outputs[f"{step}.{name}"]


def run_build(sim: Simulator, tmp_path: Path, leg: str) -> Job:
    """One matrix entry of the Build stage's job; it succeeds."""
    plain, secrets = group_variables(sim)
    (build,) = stage("Build")["jobs"]
    workspace = tmp_path / leg / "s"
    workspace.mkdir(parents=True)
    matrix = build["strategy"]["matrix"][leg]
    variables = pipeline_variables(plain, workspace) | {k: str(v) for k, v in matrix.items()}
    job = Job(workspace, variables, secrets)
    assert run_job(job, build["steps"]) == 0, "\n".join(job.log)
    return job


def deployment(sim: Simulator, tmp_path: Path, builds: Mapping[str, Job], name: str) -> Job:
    """The deployment job of stage `name`, its variables resolved, ready to run."""
    plain, secrets = group_variables(sim)
    (deploy,) = stage(name)["jobs"]
    workspace = tmp_path / name / "s"
    workspace.mkdir(parents=True)
    variables = pipeline_variables(plain, workspace)
    for key, value in deploy["variables"].items():
        variables[key] = resolve_stage_output(value, builds) if value.startswith("$[") else value
    return Job(workspace, variables, secrets)


def test_the_pipeline_builds_each_app_and_deploys_the_package_calc_built(
    sim: Simulator, service: BuildService, tmp_path: Path
) -> None:
    service.add_app("inventory", repo="svn", branches={"trunk": "1204"}, package_size=30_000)
    acceptance = service.apps["calc"].environments["Acceptance"]
    acceptance.start_seconds = 0.2
    (build,) = stage("Build")["jobs"]
    builds = {leg: run_build(sim, tmp_path, leg) for leg in build["strategy"]["matrix"]}
    for leg in builds.values():
        assert leg.outputs["mendixBuild.result"] == "success"
        assert leg.outputs["mendixBuild.version"] == "1.4.812"
    assert "calc: success, package " in builds["calc"].log[-1]

    job = deployment(sim, tmp_path, builds, "Deploy")
    (deploy,) = stage("Deploy")["jobs"]
    assert run_job(job, steps_of(deploy)) == 0, "\n".join(job.log)
    (package,) = service.apps["calc"].packages
    assert job.variables["CALC_PACKAGE_ID"] == package.package_id
    assert acceptance.package_id == package.package_id
    assert job.outputs["mendixDeploy.deploy-result"] == "success"
    assert "calc: deploy success, https://" in job.log[-1]
    assert len(sim.requests("api", "POST", r"/packages$")) == 2  # one per app, none again


def test_a_secret_the_job_does_not_have_stops_the_step_before_any_request(
    sim: Simulator, tmp_path: Path
) -> None:
    """Without the variable group linked, `$(MENDIX_API_KEY)` stays as written."""
    plain, _ = group_variables(sim)
    (build,) = stage("Build")["jobs"]
    workspace = tmp_path / "s"
    workspace.mkdir()
    variables = pipeline_variables(plain, workspace) | build["strategy"]["matrix"]["calc"]
    job = Job(workspace, variables, secrets={})
    (step,) = [s for s in build["steps"] if runs_the_step(s)]
    assert run_script(job, step) == 2
    assert "the pipeline variable MENDIX_API_KEY, which this job does not have" in job.log[0]
    assert sim.requests() == []


@pytest.mark.parametrize("text", ["$(A.b-c)", "x $(a) $(b)"])
def test_macro_reader_leaves_what_it_does_not_know(text: str) -> None:
    assert expand(text, {"a.B-C": "1", "A": "2"}) == text.replace("$(A.b-c)", "1").replace(
        "$(a)", "2"
    )


def calc_on_test(sim: Simulator, service: BuildService) -> SimEnvironment:
    """calc's Test environment, its Url the app on the simulator, the group's password."""
    return app_on_test(sim, service, UNIT_TESTS_PASSWORD)


def test_the_unit_test_job_deploys_calc_to_test_and_publishes_a_report_without_cases(
    sim: Simulator, service: BuildService, tmp_path: Path
) -> None:
    test = calc_on_test(sim, service)
    builds = {"calc": run_build(sim, tmp_path, "calc")}
    job = deployment(sim, tmp_path, builds, "Test")
    assert run_job(job, steps_of(unit_test_job())) == 0, "\n".join(job.log)
    (package,) = service.apps["calc"].packages
    assert test.package_id == package.package_id
    assert job.outputs["mendixTest.deploy-result"] == "success"
    assert (job.outputs["mendixTest.tests"], job.outputs["mendixTest.test-failures"]) == (
        "12",
        "0",
    )
    assert job.outputs["mendixTest.junit-file"] == JUNIT_FILE
    (report,) = job.published
    assert list(junit_readers.strict(report).iter("testcase")) == []
    # the agent is asked to mask the password, which appears nowhere else
    lines = "".join(job.log).splitlines()
    assert f"##vso[task.setsecret]{UNIT_TESTS_PASSWORD}" in lines
    assert sum(UNIT_TESTS_PASSWORD in line for line in lines) == 1


def test_failed_unit_tests_fail_the_job_with_exit_8_and_their_report_is_published(
    sim: Simulator, service: BuildService, tmp_path: Path
) -> None:
    test = calc_on_test(sim, service)
    test.unit_testing.suites = suites_of(12, {"Orders.Test_Total": ""})
    builds = {"calc": run_build(sim, tmp_path, "calc")}
    job = deployment(sim, tmp_path, builds, "Test")
    assert run_job(job, steps_of(unit_test_job())) == 8, "\n".join(job.log)
    assert job.outputs["mendixTest.deploy-result"] == "success"
    assert job.outputs["mendixTest.test-failures"] == "1"
    (report,) = job.published  # published although the step failed
    (case,) = junit_readers.strict(report).iter("testcase")
    assert (case.get("classname"), case.get("name")) == ("Orders", "Test_Total")
    assert case.find("failure") is not None


def test_no_report_is_a_warning_of_the_publishing_not_a_second_failure(
    sim: Simulator, service: BuildService, tmp_path: Path
) -> None:
    """The deploy itself failed: the step wrote no report, the publishing finds none."""
    calc_on_test(sim, service)
    builds = {"calc": run_build(sim, tmp_path, "calc")}
    job = deployment(sim, tmp_path, builds, "Test")
    job.variables["CALC_PACKAGE_ID"] = "0" * 8 + "-0000-0000-0000-" + "0" * 12
    code = run_job(job, steps_of(unit_test_job()))
    assert code not in (0, 8), "\n".join(job.log)
    assert job.published == []
    (publish,) = [s for s in steps_of(unit_test_job()) if "task" in s]
    assert publish_test_results(job, publish) == 0
