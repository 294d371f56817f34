"""The example pipelines a user copies: their schemas, the conventions that keep them from
blocking or timing out in a real CI, and the GitLab hand-over run line by line."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from ci_step.simulator import BuildService, Simulator
from ci_step.simulator.unit_tests import suites_of
from tests import ci_formats, junit_readers
from tests.conftest import (
    app_on_test,
    check_jsonschema,
    gitlab_env,
    inputs,
    run_entrypoint,
    with_command_on_path,
)

ROOT = Path(__file__).resolve().parent.parent
GITLAB_FILE = ROOT / ".gitlab-ci.example.yml"
GITHUB_FILE = ROOT / "examples" / "github-workflow.yml"
JENKINS_FILE = ROOT / "examples" / "Jenkinsfile"
JENKINS_LIBRARY = ROOT / "vars" / "mendixBuild.groovy"
README = ROOT / "README.md"
INSTALL_PAGE = ROOT / "docs" / "install.md"
JENKINS_PAGE = ROOT / "docs" / "ci" / "jenkins.md"
GITLAB_PAGE = ROOT / "docs" / "ci" / "gitlab.md"
AZURE_PAGE = ROOT / "docs" / "ci" / "azure.md"


@pytest.mark.parametrize(
    ("schema", "path"),
    [
        ("vendor.gitlab-ci", GITLAB_FILE),
        ("vendor.github-workflows", GITHUB_FILE),
        ("vendor.github-actions", ROOT / "action.yml"),
        ("vendor.azure-pipelines", ROOT / "examples" / "azure-pipelines.yml"),
    ],
)
def test_examples_pass_their_official_schemas(schema: str, path: Path) -> None:
    # check-jsonschema is in the [test] extra: missing, this fails rather than skips
    done = check_jsonschema(schema, path)
    assert done.returncode == 0, done.stdout + done.stderr


# ---------------------------------------------------------------------------------------
# GitLab

GITLAB_KEYWORDS = {
    "stages",
    "variables",
    "default",
    "include",
    "workflow",
    "image",
    "services",
    "cache",
    "before_script",
    "after_script",
}


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """GitLab's `extends`: hashes merge deeply, anything else is replaced."""
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def gitlab_document() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(GITLAB_FILE.read_text("utf-8"))
    return document


def _resolved(document: dict[str, Any], name: str) -> dict[str, Any]:
    job: dict[str, Any] = document[name]
    parents = job.get("extends", [])
    merged: dict[str, Any] = {}
    for parent in [parents] if isinstance(parents, str) else parents:
        merged = _merge(merged, _resolved(document, parent))
    return _merge(merged, {k: v for k, v in job.items() if k != "extends"})


def gitlab_jobs() -> dict[str, dict[str, Any]]:
    document = gitlab_document()
    return {
        name: _resolved(document, name)
        for name in document
        if name not in GITLAB_KEYWORDS and not name.startswith(".")
    }


def deploy_job(environment: str) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (name, job)
        for name, job in gitlab_jobs().items()
        if any(f"--environment {environment}" in line for line in job["script"])
    ]
    return found


def test_gitlab_manual_jobs_do_not_block_the_pipeline() -> None:
    """A manual job that is not allowed to fail holds the pipeline as 'blocked' (and a job
    made manual by `rules:` is not allowed to fail unless told): each says it explicitly."""
    manual = []
    for name, job in gitlab_jobs().items():
        places = [job, *job.get("rules", [])]
        for place in places:
            if place.get("when") == "manual":
                manual.append(name)
                allowed = place.get("allow_failure", job.get("allow_failure"))
                assert allowed is True, f"{name}: when: manual without allow_failure: true"
    assert sorted(manual) == ["deploy-acceptance", "deploy-production"]


def test_gitlab_production_deploys_after_acceptance_and_takes_its_package() -> None:
    acceptance, first = deploy_job("Acceptance")
    _, job = deploy_job("Production")
    assert job["needs"] == [{"job": acceptance, "artifacts": True}]
    stages = gitlab_document()["stages"]
    assert stages.index(job["stage"]) > stages.index(first["stage"])
    assert "--allow-production true" in job["script"][-1]
    assert job["environment"]["deployment_tier"] == "production"
    need, tested = first["needs"]
    assert (need["job"], need["artifacts"]) == ("build", True)
    assert need["parallel"]["matrix"][0]["MENDIX_APP_ID"] == "calc"
    # the unit tests on Test passed first; that job's dotenv report is not taken
    assert tested == {"job": "test-calc", "artifacts": False}


def test_gitlab_deploys_never_race() -> None:
    """Each deploy job holds a resource group of its app and environment."""
    groups = {}
    for environment in ("Acceptance", "Production"):
        name, job = deploy_job(environment)
        groups[name] = job.get("resource_group")
        assert groups[name] == f"mendix-calc-{environment}", name
    assert len(set(groups.values())) == 2
    builds = [j for j in gitlab_jobs().values() if j.get("script") == ["mendix-build"]]
    assert builds
    assert all("resource_group" not in job for job in builds)


@dataclass
class JobRun:
    code: int
    output: str
    report: dict[str, str]


def _expanded(value: str, variables: Mapping[str, str]) -> str:
    """GitLab's expansion of `$NAME` and `${NAME}` in a variable's value."""
    return re.sub(
        r"\$(?:\{(\w+)\}|(\w+))",
        lambda m: variables.get(m.group(1) or m.group(2), ""),
        value,
    )


def run_gitlab_job(
    name: str,
    workspace: Path,
    project: Mapping[str, str],
    dotenv: Mapping[str, str],
    matrix: Mapping[str, str] | None = None,
) -> JobRun:
    """One job of the example as a runner does it: the job's variables (with those of its
    `parallel: matrix:` entry, `$NAME` expanded), outranked by the dotenv report it needs,
    outranked by the project's CI/CD variables; each script line in a shell, the first
    failing line ending the job; `mendix-build` on PATH."""
    job = gitlab_jobs()[name]
    predefined = gitlab_env(workspace, {})
    variables = {str(k): str(v) for k, v in job.get("variables", {}).items()}
    variables |= dict(matrix or {})
    variables = {k: _expanded(v, predefined | variables) for k, v in variables.items()}
    env = predefined | variables | dict(dotenv) | dict(project)
    env = with_command_on_path(env, workspace.parent / "bin")
    report = workspace / "mendix-build.env"
    report.unlink(missing_ok=True)
    output = []
    code = 0
    for line in job["script"]:
        done = subprocess.run(
            ["sh", "-c", line],
            env=env,
            cwd=workspace,
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
        output.append(done.stdout + done.stderr)
        code = done.returncode
        if code != 0:
            break
    parsed = ci_formats.gitlab_dotenv(report.read_bytes()) if report.exists() else {}
    return JobRun(code, "".join(output), parsed)


UNIT_TESTS_PASSWORD = "example-unit-tests-pw"


def _gitlab_project_variables(sim: Simulator) -> dict[str, str]:
    values = inputs(sim, unit_tests_password=UNIT_TESTS_PASSWORD)
    wanted = ("username", "api-key", "base-url", "poll-interval", "timeout", "unit-tests-password")
    return {"MENDIX_" + k.upper().replace("-", "_"): values[k] for k in wanted}


def _gitlab_build_report(sim: Simulator, workspace: Path) -> dict[str, str]:
    build = run_entrypoint(gitlab_env(workspace, inputs(sim)), workspace)
    assert build.code == 0, build.stderr
    return ci_formats.gitlab_dotenv((workspace / "mendix-build.env").read_bytes())


def test_gitlab_example_promotes_the_package_acceptance_runs(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    environments = service.apps["calc"].environments
    for mode in ("Acceptance", "Production"):
        environments[mode].start_seconds = 0.2
    project = _gitlab_project_variables(sim)
    built = _gitlab_build_report(sim, workspace)

    acceptance = run_gitlab_job("deploy-acceptance", workspace, project, built)
    assert acceptance.code == 0, acceptance.output
    assert acceptance.report["MENDIX_DEPLOY_RESULT"] == "success"
    production = run_gitlab_job("deploy-production", workspace, project, acceptance.report)
    assert production.code == 0, production.output

    (package,) = service.apps["calc"].packages
    assert environments["Acceptance"].package_id == package.package_id
    assert environments["Production"].package_id == package.package_id
    assert production.report["MENDIX_ENVIRONMENT"] == "Production"
    assert production.report["MENDIX_DEPLOY_RESULT"] == "success"
    assert len(sim.requests("api", "POST", r"/packages$")) == 1


def test_gitlab_example_runs_the_unit_tests_on_test_and_keeps_their_junit_report(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    app_on_test(sim, service, UNIT_TESTS_PASSWORD)
    built = _gitlab_build_report(sim, workspace)
    tested = run_gitlab_job("test-calc", workspace, _gitlab_project_variables(sim), built)
    assert tested.code == 0, tested.output
    assert (tested.report["MENDIX_DEPLOY_RESULT"], tested.report["MENDIX_TESTS"]) == (
        "success",
        "12",
    )
    report = gitlab_jobs()["test-calc"]["artifacts"]["reports"]["junit"]
    assert tested.report["MENDIX_JUNIT_FILE"] == report
    assert junit_readers.gitlab_cases((workspace / report).read_text("utf-8")) == []
    (package,) = service.apps["calc"].packages
    assert service.apps["calc"].environments["Test"].package_id == package.package_id


def test_gitlab_example_shows_failed_unit_tests_and_fails_the_job(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    environment = app_on_test(sim, service, UNIT_TESTS_PASSWORD)
    environment.unit_testing.suites = suites_of(12, {"Orders.Test_Total": ""})
    built = _gitlab_build_report(sim, workspace)
    tested = run_gitlab_job("test-calc", workspace, _gitlab_project_variables(sim), built)
    assert tested.code == 8, tested.output
    assert tested.report["MENDIX_TEST_FAILURES"] == "1"
    report = gitlab_jobs()["test-calc"]["artifacts"]
    assert report["when"] == "always"  # the report is kept for a failed job
    (case,) = junit_readers.gitlab_cases(
        (workspace / report["reports"]["junit"]).read_text("utf-8")
    )
    assert (case.classname, case.name, case.status) == ("Orders", "Test_Total", "failure")


def test_gitlab_example_production_refuses_to_follow_a_failed_acceptance_deploy(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    """The acceptance job is allowed to fail, and `needs` is satisfied by a job allowed to
    fail: the production job itself must stop."""
    environments = service.apps["calc"].environments
    environments["Acceptance"].start_seconds = 0.2
    environments["Acceptance"].start_error = "MISSING_CONSTANT"
    project = _gitlab_project_variables(sim)
    built = _gitlab_build_report(sim, workspace)

    acceptance = run_gitlab_job("deploy-acceptance", workspace, project, built)
    assert acceptance.code == 7, acceptance.output
    production = run_gitlab_job("deploy-production", workspace, project, acceptance.report)
    assert production.code == 1
    assert "calc was not deployed to Acceptance (deploy-result: failure)" in production.output
    assert sim.requests("api", path=r"/environments/Production") == []
    assert environments["Production"].package_id != environments["Acceptance"].package_id


def test_gitlab_example_production_refuses_without_an_acceptance_report(
    sim: Simulator, workspace: Path
) -> None:
    """No report at all (the acceptance job failed before the step wrote one)."""
    production = run_gitlab_job("deploy-production", workspace, _gitlab_project_variables(sim), {})
    assert production.code == 1
    assert "(deploy-result: none)" in production.output
    assert sim.requests() == []


def _job_workspace(root: Path, name: str) -> Path:
    """A job's own checkout (each GitLab job starts from a fresh one)."""
    path = root / name / "project"
    path.mkdir(parents=True)
    return path


def _assert_artifacts_written(name: str, workspace: Path) -> None:
    """Every path a job keeps as an artifact is a file the step wrote (else the runner logs
    'no matching files'), and so is its dotenv report."""
    artifacts = gitlab_jobs()[name]["artifacts"]
    for pattern in [*artifacts["paths"], *artifacts["reports"].values()]:
        assert [p for p in workspace.glob(pattern) if p.is_file()], f"{name}: {pattern}"


def test_gitlab_every_artifact_is_a_file_the_step_writes(
    sim: Simulator, service: BuildService, tmp_path: Path
) -> None:
    """Each job of the example that runs the step, run as the example has it: every path
    in its `artifacts:` exists afterwards."""
    service.add_app("inventory", repo="svn", branches={"trunk": "1204"}, package_size=30_000)
    for mode in ("Acceptance", "Production"):
        service.apps["calc"].environments[mode].start_seconds = 0.2
    app_on_test(sim, service, UNIT_TESTS_PASSWORD)
    project = _gitlab_project_variables(sim)
    kept = {name for name, job in gitlab_jobs().items() if "artifacts" in job}
    ran: set[str] = set()
    reports: dict[str, dict[str, str]] = {}

    def run(name: str, dotenv: Mapping[str, str], matrix: Mapping[str, str] | None = None) -> None:
        workspace = _job_workspace(tmp_path, f"{name}-{len(ran)}")
        job = run_gitlab_job(name, workspace, project, dotenv, matrix)
        assert job.code == 0, job.output
        _assert_artifacts_written(name, workspace)
        ran.add(name)
        reports[(matrix or {}).get("MENDIX_APP_ID", name)] = job.report

    for entry in gitlab_jobs()["build"]["parallel"]["matrix"]:
        run("build", {}, {k: str(v) for k, v in entry.items()})
    assert reports["calc"]["MENDIX_VERSION"] == "1.4.17"
    run("nightly-feature", {})
    run("test-calc", reports["calc"])
    run("deploy-acceptance", reports["calc"])
    run("deploy-production", reports["deploy-acceptance"])
    assert ran == kept


def test_gitlab_report_runs_after_a_failed_build_and_shows_its_error(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    """The report job is wanted most after a failure: every rule that adds it says
    `when: always` (a job whose `needs` failed is otherwise skipped), and it shows the
    result file the failed job kept."""
    report = gitlab_jobs()["report"]
    rules = report.get("rules") or [{}]
    assert all(rule.get("when", report.get("when")) == "always" for rule in rules), rules
    service.apps["calc"].failing_revisions.add("a1b2c3d4e5f6")
    project = _gitlab_project_variables(sim)
    nightly = run_gitlab_job("nightly-feature", workspace, project, {})
    assert nightly.code == 1, nightly.output
    shown = run_gitlab_job("report", workspace, project, nightly.report)
    assert shown.code == 0, shown.output
    assert f"Package {nightly.report['MENDIX_PACKAGE_ID']} (failure)" in shown.output
    assert '"fix": "open the app' in shown.output


# ---------------------------------------------------------------------------------------
# GitHub


def github_workflow() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(GITHUB_FILE.read_text("utf-8"))
    return document


def test_github_deploy_waits_for_the_builds_and_an_environment() -> None:
    jobs = github_workflow()["jobs"]
    deploy = jobs["deploy"]
    assert deploy["needs"] == ["build", "unit-tests"]  # only what passed its tests on Test
    # The approval of a protected environment is waited for before the job starts, so
    # timeout-minutes never counts it.
    assert deploy["environment"]["name"] == "${{ inputs.target }}"
    assert deploy["environment"]["url"] == "${{ steps.mendix.outputs.environment-url }}"
    step_with = next(s for s in deploy["steps"] if s.get("id") == "mendix")["with"]
    assert step_with["allow-production"] == "${{ inputs.target == 'Production' }}"
    for job in jobs.values():
        assert "timeout-minutes" in job


def test_github_deploys_never_race() -> None:
    """A concurrency group per app and target: a second deploy waits, none is cancelled
    halfway; builds are not serialised."""
    jobs = github_workflow()["jobs"]
    assert jobs["deploy"]["concurrency"] == {
        "group": "mendix-deploy-${{ matrix.app }}-${{ inputs.target }}",
        "cancel-in-progress": False,
    }
    assert "concurrency" not in jobs["build"]
    assert "concurrency" not in github_workflow()


def test_github_outputs_are_reported_on_failure_and_never_pasted_into_a_script() -> None:
    for name, job in github_workflow()["jobs"].items():
        steps = job["steps"]
        ours = [i for i, s in enumerate(steps) if str(s.get("uses", "")).startswith("your-org/")]
        assert ours, name
        assert any(s.get("if") == "always()" and "run" in s for s in steps[ours[0] + 1 :]), name
        for step in steps:
            assert "${{" not in step.get("run", ""), f"{name}: an expression inside run:"


PINNED = re.compile(r"[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+")
OWN_ACTION = "your-org/mendix-build@v1 # zizmor: ignore[unpinned-uses]"


def test_github_example_pins_actions_by_commit_and_keeps_no_token() -> None:
    """What zizmor asks of a workflow a user copies: an action from others is pinned by its
    full commit with the release in a comment (a tag can be moved to other code), and
    actions/checkout leaves no token in .git/config for later steps to read."""
    lines = [
        line.split("uses:", 1)[1].strip()
        for line in GITHUB_FILE.read_text("utf-8").splitlines()
        if line.strip().removeprefix("- ").startswith("uses:")
    ]
    assert lines
    for uses in lines:
        assert uses == OWN_ACTION or PINNED.fullmatch(uses), uses
    checkouts = [
        step
        for job in github_workflow()["jobs"].values()
        for step in job["steps"]
        if str(step.get("uses", "")).startswith("actions/checkout@")
    ]
    assert len(checkouts) == 3
    for step in checkouts:
        assert step["with"]["persist-credentials"] is False


def test_github_unit_tests_run_on_test_and_show_in_the_summary() -> None:
    job = github_workflow()["jobs"]["unit-tests"]
    assert job["needs"] == "build"
    assert job["environment"]["name"] == "Test"
    steps = job["steps"]
    step = next(s for s in steps if s.get("id") == "mendix")
    assert step["with"]["environment"] == "Test"
    assert step["with"]["unit-tests"] is True
    assert step["with"]["unit-tests-password"] == "${{ secrets.MENDIX_UNIT_TESTS_PASSWORD }}"
    # the summary is written by the step itself; the report is kept even for failed tests
    (upload,) = [s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    assert upload["if"].startswith("always()")
    assert upload["with"]["path"] == "${{ steps.mendix.outputs.junit-file }}"


def test_action_says_the_artifact_path_output_is_relative() -> None:
    document = yaml.safe_load((ROOT / "action.yml").read_text("utf-8"))
    description = document["outputs"]["artifact-path"]["description"]
    assert "relative to the workspace" in description
    assert "bsolute" not in description


# ---------------------------------------------------------------------------------------
# Jenkins: a small reader of Groovy's block structure (strings and comments respected)


@dataclass
class Block:
    head: str
    parent: Block | None = None
    items: list[str | Block] = field(default_factory=list)

    def statements(self) -> list[str]:
        return [item for item in self.items if isinstance(item, str)]

    def blocks(self, head: str) -> list[Block]:
        return [b for b in self.items if isinstance(b, Block) and b.head == head]

    def ancestors(self) -> Iterator[Block]:
        block = self.parent
        while block is not None:
            yield block
            block = block.parent

    def walk(self) -> Iterator[tuple[str, Block]]:
        """Every statement and block head below, in source order, with its block."""
        for item in self.items:
            if isinstance(item, Block):
                yield item.head, item
                yield from item.walk()
            else:
                yield item, self


def _strip_comments(source: str) -> str:
    out: list[str] = []
    i, quote = 0, ""
    while i < len(source):
        char = source[i]
        if quote:
            out.append(char)
            if char == "\\":
                out.append(source[i + 1])
                i += 1
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
            out.append(char)
        elif source.startswith("//", i):
            while i < len(source) and source[i] != "\n":
                i += 1
            continue
        elif source.startswith("/*", i):
            i = source.index("*/", i) + 2
            continue
        else:
            out.append(char)
        i += 1
    return "".join(out)


def parse_groovy(source: str) -> Block:
    root = Block("")
    block, text, quote, parens = root, "", "", 0

    def flush() -> None:
        nonlocal text
        statement = " ".join(text.split())
        if statement:
            block.items.append(statement)
        text = ""

    for char in _strip_comments(source):
        if quote:
            text += char
            if char == quote and not text.endswith("\\" + quote):
                quote = ""
        elif char in "'\"":
            quote = char
            text += char
        elif char in "([":
            parens += 1
            text += char
        elif char in ")]":
            parens -= 1
            text += char
        elif char == "{":
            child = Block(" ".join(text.split()), block)
            block.items.append(child)
            block, text = child, ""
        elif char == "}":
            flush()
            assert block.parent is not None, "unbalanced braces"
            block = block.parent
        elif char == "\n" and parens == 0:
            flush()
        else:
            text += char
    flush()
    assert (block, quote, parens) == (root, "", 0), "unbalanced source"
    return root


def jenkinsfile() -> Block:
    return parse_groovy(JENKINS_FILE.read_text("utf-8"))


def _limited_by(block: Block) -> list[str]:
    """The timeouts around a point: enclosing timeout(...) blocks and the `options` of
    every enclosing stage and of the pipeline."""
    found = []
    for outer in [block, *block.ancestors()]:
        if outer.head.startswith("timeout"):
            found.append(outer.head)
        if outer.head.startswith("stage(") or outer.head == "pipeline":
            for options in outer.blocks("options"):
                found += [s for s in options.statements() if s.startswith("timeout")]
    return found


def test_jenkins_input_wait_is_outside_every_timeout() -> None:
    """A pipeline's timeout covers the whole run and a stage's options apply before its
    input, so either would end a build that waits for a person for too long."""
    waits = [block for text, block in jenkinsfile().walk() if re.match(r"input\b", text)]
    assert waits
    for block in waits:
        assert _limited_by(block) == [], f"input inside {_limited_by(block)}"


def _library_calls(root: Block) -> list[tuple[str, Block]]:
    return [(text, block) for text, block in root.walk() if "mendixBuild(" in text]


def test_jenkins_each_run_of_the_step_is_limited_in_time() -> None:
    """A Jenkins timeout around the call, or the library's timeoutMinutes (which counts
    the run, not the wait for the deploy's lock)."""
    runs = _library_calls(jenkinsfile())
    assert len(runs) == 3
    for text, block in runs:
        assert _limited_by(block) or "timeoutMinutes:" in text, text


def test_jenkins_example_loads_the_library_and_locks_its_deploy() -> None:
    """Each deploy names its app and environment, so the library locks
    mendix-<app>-<environment> around it (tests/test_jenkins_library.py runs that)."""
    source = JENKINS_FILE.read_text("utf-8")
    assert "@Library('mendix-build@v1') _" in _strip_comments(source)
    deploys = [text for text, _ in _library_calls(jenkinsfile()) if "environment:" in text]
    assert len(deploys) == 2
    for deploy in deploys:
        assert "appId: 'calc'" in deploy
        assert "lock:" not in deploy
    assert "environment: 'Test'" in deploys[0]
    assert "environment: params.ENVIRONMENT" in deploys[1]


def _check_step_runs(root: Block) -> int:
    """Every `sh` running the step hands back its exit code, and the outputs are read
    after it; return how many there are."""
    checked = 0
    ordered = list(root.walk())
    for index, (text, _) in enumerate(ordered):
        runs_step = re.search(r"\bsh\b\W*(script:\s*)?['\"]mendix-build\b", text) or re.search(
            r"\bsh\(script: script\b", text
        )
        if runs_step:
            assert "returnStatus: true" in text, text
            assert any("readProperties" in later for later, _ in ordered[index + 1 :]), text
            checked += 1
    return checked


def test_jenkins_library_reads_the_outputs_after_a_failed_run() -> None:
    assert _check_step_runs(parse_groovy(JENKINS_LIBRARY.read_text("utf-8"))) == 1
    assert _check_step_runs(jenkinsfile()) == 0  # the example leaves it to the library


def test_jenkins_unit_tests_stage_publishes_the_report_of_this_build_only() -> None:
    """calc deployed to Test with its unit tests, before the confirmed deploy, through the
    library: the password from a credential, `junit: true` (the library removes the report
    an earlier build left in the workspace before the step runs, and publishes this run's
    with allowEmptyResults after it, whatever the exit code: tests/test_jenkins_library.py
    runs that); the confirmed deploy only after the tests passed."""
    source = JENKINS_FILE.read_text("utf-8")
    assert "JUnit [junit]" in source
    stages = [b for _, b in jenkinsfile().walk() if b.head.startswith("stage(")]
    heads = [stage.head for stage in stages]
    assert heads.index("stage('Unit tests on Test')") < heads.index("stage('Deploy calc')")
    stage = stages[heads.index("stage('Unit tests on Test')")]
    (call,) = [text for text, _ in _library_calls(stage)]
    for argument in (
        "environment: 'Test'",
        "unitTests: true",
        "unitTestsPasswordCredentialsId: 'calc-unit-tests'",
        "junit: true",
    ):
        assert argument in call, argument
    assert "junitFile:" not in call  # the library's default, the report it removes first
    assert "unitTestsPassword:" not in call
    deploy = stages[heads.index("stage('Deploy calc')")]
    assert "currentBuild.currentResult == 'SUCCESS'" in " ".join(
        text for text, _ in deploy.blocks("when")[0].walk()
    )
    library = [text for text, _ in parse_groovy(JENKINS_LIBRARY.read_text("utf-8")).walk()]
    removed = next(i for i, text in enumerate(library) if "quoted(options.report)" in text)
    ran = next(i for i, text in enumerate(library) if "sh(script: script" in text)
    published = library.index("junit(testResults: options.report, allowEmptyResults: true)")
    assert removed < ran < published


JENKINS_PLUGINS = {
    r"\breadProperties\b": ("Pipeline Utility Steps", "pipeline-utility-steps"),
    r"\bwithCredentials\b|\busernamePassword\b": ("Credentials Binding", "credentials-binding"),
    r"\bjunit\b": ("JUnit", "junit"),
    r"\bdocker\.image\b": ("Docker Pipeline", "docker-workflow"),
    r"\bmatrix\s*\{|\binput\s*\{|\bsh\b": ("Pipeline", "workflow-aggregator"),
    r"\block\(": ("Lockable Resources", "lockable-resources"),
}
# README.md describes the four plugins of its Jenkins section; the Jenkins pages in docs/
# take over from it (see docs/ci/jenkins-library.md).
README_PLUGINS = {
    "pipeline-utility-steps",
    "credentials-binding",
    "docker-workflow",
    "workflow-aggregator",
}


def test_jenkins_plugins_are_named_in_the_file_and_the_jenkins_page() -> None:
    """Every plugin the example needs, itself or through the library, is named in its
    header; the library's page names them all, the Jenkins page those the README names."""
    source = JENKINS_FILE.read_text("utf-8")
    header = "\n".join(line for line in source.splitlines() if line.startswith("//"))
    section = " ".join(JENKINS_PAGE.read_text("utf-8").split())
    page = " ".join((ROOT / "docs" / "ci" / "jenkins-library.md").read_text("utf-8").split())
    code = _strip_comments(source) + _strip_comments(JENKINS_LIBRARY.read_text("utf-8"))
    for pattern, (name, plugin_id) in JENKINS_PLUGINS.items():
        assert re.search(pattern, code), pattern
        assert f"{name} [{plugin_id}]" in header, name
        assert f"{name} (`{plugin_id}`" in page, name
        if plugin_id in README_PLUGINS:
            assert f"{name} (`{plugin_id}`" in section, name


@pytest.mark.parametrize("page", [README, JENKINS_PAGE], ids=lambda page: page.name)
def test_jenkins_snippets_read_the_outputs_after_a_failed_run(page: Path) -> None:
    snippets = re.findall(r"```groovy\n(.*?)```", page.read_text("utf-8"), re.DOTALL)
    assert sum(_check_step_runs(parse_groovy(snippet)) for snippet in snippets) >= 1


def test_groovy_reader_sees_blocks_strings_and_comments() -> None:
    root = parse_groovy(
        "pipeline { // a { in a comment\n"
        "  options { timeout(time: 1, unit: 'HOURS') }\n"
        "  stages { stage('a {') { steps { echo \"}${x == 'y'}\" } } }\n"
        "}\n"
    )
    (pipeline,) = root.blocks("pipeline")
    assert pipeline.blocks("options")[0].statements() == ["timeout(time: 1, unit: 'HOURS')"]
    (stage,) = pipeline.blocks("stages")[0].blocks("stage('a {')")
    assert stage.blocks("steps")[0].statements() == ["echo \"}${x == 'y'}\""]
    assert _limited_by(stage.blocks("steps")[0]) == ["timeout(time: 1, unit: 'HOURS')"]


# ---------------------------------------------------------------------------------------
# README


def test_install_page_says_how_to_get_the_image() -> None:
    page = INSTALL_PAGE.read_text("utf-8")
    getting = page.index("## Getting the image")
    assert page.index("registry.example.com") > getting
    assert "docker build -t registry.example.com/tools/mendix-build:1 ." in page


@pytest.mark.parametrize(
    "page", [JENKINS_PAGE, GITLAB_PAGE, AZURE_PAGE], ids=lambda page: page.name
)
def test_ci_pages_link_to_getting_the_image_before_they_use_it(page: Path) -> None:
    text = page.read_text("utf-8")
    assert text.index("(../install.md#getting-the-image)") < text.index("registry.example.com")


def test_readme_says_how_to_get_the_image_before_an_example_uses_it() -> None:
    readme = README.read_text("utf-8")
    build = readme.index("docker build -t registry.example.com/tools/mendix-build:1 .")
    assert readme.index("registry.example.com") == build + len("docker build -t ")
    assert build < readme.index("**GitLab CI**")


def test_readme_states_python_version_and_what_the_test_command_does_as_root() -> None:
    readme = README.read_text("utf-8")
    first_command = readme.index("```sh")
    assert "Python 3.11 or newer" in readme[:first_command]
    test_command = readme.index("python -m pytest\n```")
    after = readme[test_command : readme.index("\n## ")]
    for word in ("root", "buildah", "debootstrap", "apt-get", '-m "not container"'):
        assert word in after, word
