"""Fixtures: the simulator on 127.0.0.1 (free ports) and the entrypoint as each CI runs it."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

import pytest
from hypothesis import settings

from ci_step.config.inputs import INPUTS
from ci_step.simulator import BuildService, Durations, Simulator
from ci_step.simulator.environments import SimEnvironment
from tests.relay import Certificates, make_certificates

if TYPE_CHECKING:
    from tests.rig import Rig

ROOT = Path(__file__).resolve().parent.parent
ENTRYPOINT = ROOT / "entrypoint.py"
USER = "ci-bot@example.com"
API_KEY = "k3y-6d0f1c2e-55aa-4b7e-9f00-SECRET-7c1d"
GIT_HEAD = "3f2a9c1b7e4d5a6f8b9c0d1e2f3a4b5c6d7e8f90"
FAILING = "deadbeef00"

# In CI (the CI variable set) property tests draw the same examples on every run: a red
# build then means a changed program, never an unlucky draw. Locally they explore.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    workspace: Path

    def file(self, name: str) -> str:
        return (self.workspace / name).read_text(encoding="utf-8")

    def result(self) -> dict[str, object]:
        """The JSON result file that run_local asks for."""
        document: dict[str, object] = json.loads(self.file("result.json"))
        assert document["exit-code"] == self.code
        return document


@pytest.fixture
def service() -> BuildService:
    svc = BuildService(USER, API_KEY, durations=Durations(0.1, 0.3, 0.1), url_ttl=60)
    svc.add_app(
        "calc",
        repo="git",
        branches={"main": GIT_HEAD, "branches/feature": "a1b2c3d4e5f6"},
        failing_revisions={FAILING},
        package_size=200_000,
    )
    svc.add_app("legacy", repo="svn", branches={"trunk": "120"}, package_size=50_000)
    return svc


@pytest.fixture
def sim(service: BuildService) -> Iterator[Simulator]:
    with Simulator(service) as simulator:
        yield simulator


def app_on_test(sim: Simulator, service: BuildService, password: str) -> SimEnvironment:
    """calc's Test environment, its Url the app on the simulator: a start of 0.2 s, the Unit
    Testing module's RemoteApiPassword ``password``, its 12 tests passing in 0.02 s each."""
    sim.serve_app_urls()
    environment = service.apps["calc"].environments["Test"]
    environment.start_seconds = 0.2
    environment.unit_testing.password = password
    environment.unit_testing.seconds_per_test = 0.02
    return environment


def inputs(sim: Simulator, **overrides: str) -> dict[str, str]:
    """A complete, valid set of inputs for the 'calc' app, by input name."""
    values = {
        "app-id": "calc",
        "username": USER,
        "api-key": API_KEY,
        "revision": GIT_HEAD[:10],
        "version": "1.2.3",
        "base-url": sim.base_url,
        "poll-interval": "0.1",
        "timeout": "30s",
    }
    values.update({k.replace("_", "-"): v for k, v in overrides.items()})
    return values


def base_env(home: Path) -> dict[str, str]:
    """What any container gets: no inherited CI variables, only a PATH and a HOME."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8"}
    for name in ("PYTHONPATH", "VIRTUAL_ENV", "SYSTEMROOT"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def github_env(workspace: Path, values: Mapping[str, str]) -> dict[str, str]:
    """GitHub's docker action contract: every declared input as INPUT_<NAME> (hyphens kept),
    unset ones as empty strings; the file-command paths; the run's identity."""
    commands = workspace.parent / "file_commands"
    commands.mkdir(exist_ok=True)
    env = base_env(workspace.parent)
    for spec in INPUTS:
        env[f"INPUT_{spec.name.upper()}"] = values.get(spec.name, "")
    env.update(
        {
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_OUTPUT": str(commands / "set_output"),
            "GITHUB_STEP_SUMMARY": str(commands / "step_summary"),
            "GITHUB_ENV": str(commands / "set_env"),
            "GITHUB_REPOSITORY": "acme/calc-pipeline",
            "GITHUB_RUN_ID": "987654",
            "GITHUB_RUN_NUMBER": "12",
            "GITHUB_WORKFLOW": "Build Mendix app",
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_SHA": "0" * 40,
            "RUNNER_TEMP": str(workspace.parent),
        }
    )
    return env


def mendix_env(values: Mapping[str, str]) -> dict[str, str]:
    return {spec.mendix_variable: values[spec.name] for spec in INPUTS if spec.name in values}


def gitlab_env(workspace: Path, values: Mapping[str, str]) -> dict[str, str]:
    env = base_env(workspace.parent)
    env.update(mendix_env(values))
    env.update(
        {
            "CI": "true",
            "GITLAB_CI": "true",
            "CI_PROJECT_DIR": str(workspace),
            "CI_PIPELINE_ID": "4242",
            "CI_PIPELINE_IID": "17",
            "CI_PIPELINE_URL": "https://gitlab.example.com/acme/calc/-/pipelines/4242",
            "CI_JOB_ID": "777",
            "CI_COMMIT_SHA": "1" * 40,
        }
    )
    return env


def jenkins_env(workspace: Path, values: Mapping[str, str]) -> dict[str, str]:
    env = base_env(workspace.parent)
    env.update(mendix_env(values))
    env.update(
        {
            "JENKINS_URL": "https://jenkins.example.com/",
            "WORKSPACE": str(workspace),
            "BUILD_TAG": "jenkins-calc-main-31",
            "BUILD_URL": "https://jenkins.example.com/job/calc/job/main/31/",
            "BUILD_NUMBER": "31",
            "JOB_NAME": "calc/main",
        }
    )
    return env


AZURE_CONTAINER = "6c1b3a2f9e0d"


def azure_env(workspace: Path, values: Mapping[str, str]) -> dict[str, str]:
    """A container job of Azure Pipelines, as the agent's launcher starts a step in it:
    TF_BUILD=True, the inputs as MENDIX_* variables (secrets mapped through the step's
    `env:`), the agent's directories, the run's identity."""
    temp = workspace.parent / "agent_temp"
    temp.mkdir(exist_ok=True)
    env = base_env(workspace.parent)
    env.update(mendix_env(values))
    env.update(
        {
            "TF_BUILD": "True",
            "AGENT_CONTAINERID": AZURE_CONTAINER,
            "AGENT_TEMPDIRECTORY": str(temp),
            "BUILD_SOURCESDIRECTORY": str(workspace),
            "SYSTEM_DEFAULTWORKINGDIRECTORY": str(workspace),
            "BUILD_BUILDID": "812",
            "BUILD_BUILDNUMBER": "20250301.4",
            "BUILD_DEFINITIONNAME": "calc-ci",
            "BUILD_SOURCEVERSION": "2" * 40,
            "SYSTEM_COLLECTIONURI": "https://dev.azure.com/acme/",
            "SYSTEM_TEAMPROJECT": "Mendix Apps",
            "SYSTEM_JOBNAME": "build",
        }
    )
    return env


EnvMaker = Callable[[Path, Mapping[str, str]], dict[str, str]]
# Each CI's environment for the step, by the name tests parametrize over.
CIS: dict[str, EnvMaker] = {
    "github": github_env,
    "gitlab": gitlab_env,
    "jenkins": jenkins_env,
    "azure": azure_env,
}


def run_entrypoint(
    env: Mapping[str, str],
    workspace: Path,
    *args: str,
    timeout: float = 90,
    umask: int | None = None,
) -> Run:
    """``umask``: the step's own (set in the child before it starts)."""
    done = subprocess.run(
        [sys.executable, str(ENTRYPOINT), *args],
        env=dict(env),
        cwd=workspace,
        umask=-1 if umask is None else umask,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr, workspace)


def with_command_on_path(env: Mapping[str, str], bin_dir: Path) -> dict[str, str]:
    """``env`` with a `mendix-build` command first on PATH that runs the entrypoint, as the
    image has it: for a CI's script lines run in a shell."""
    bin_dir.mkdir(exist_ok=True)
    shim = bin_dir / "mendix-build"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{ENTRYPOINT}" mendix-build "$@"\n')
    shim.chmod(0o755)
    return {**env, "PATH": f"{bin_dir}:{env['PATH']}"}


def run_local(sim: Simulator, workspace: Path, *args: str, **overrides: str) -> Run:
    """The entrypoint with MENDIX_* inputs outside any CI, writing result.json."""
    values = inputs(sim, result_file="result.json", **overrides)
    return run_entrypoint(base_env(workspace.parent) | mendix_env(values), workspace, *args)


class StepProcess:
    """The entrypoint running in the background, its stderr read line by line as it comes,
    so a test acts on what the step has done (the lines it logged), never on timing."""

    def __init__(self, env: Mapping[str, str], workspace: Path, *args: str) -> None:
        self.workspace = workspace
        self.process = subprocess.Popen(
            [sys.executable, str(ENTRYPOINT), *args],
            env=dict(env),
            cwd=workspace,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._seen = threading.Condition()
        self._stderr: list[str] = []
        self._stdout: list[str] = []
        self._open = 2
        self._readers = [
            threading.Thread(target=self._read, args=(stream, lines), daemon=True)
            for stream, lines in (
                (self.process.stderr, self._stderr),
                (self.process.stdout, self._stdout),
            )
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: IO[str] | None, lines: list[str]) -> None:
        assert stream is not None
        for line in stream:
            with self._seen:
                lines.append(line)
                self._seen.notify_all()
        with self._seen:
            self._open -= 1
            self._seen.notify_all()

    @property
    def stderr(self) -> str:
        with self._seen:
            return "".join(self._stderr)

    @property
    def stdout(self) -> str:
        with self._seen:
            return "".join(self._stdout)

    def wait_for(self, text: str, timeout: float = 60, *, printed: bool = False) -> None:
        """Return once a line the step wrote to stderr (``printed``: to stdout) contains
        ``text``."""
        lines = self._stdout if printed else self._stderr

        def logged() -> bool:
            return any(text in line for line in lines)

        with self._seen:
            self._seen.wait_for(lambda: logged() or self._open == 0, timeout)
            if logged():
                return
        raise AssertionError(
            f"the step did not write {text!r}; its stdout:\n{self.stdout}\nstderr:\n{self.stderr}"
        )

    def finish(self, timeout: float = 90) -> Run:
        """Wait for the exit: the step's Run."""
        try:
            self.process.wait(timeout=timeout)
        finally:
            self.process.kill()
        for reader in self._readers:
            reader.join(timeout=10)
        with self._seen:
            return Run(
                self.process.returncode,
                "".join(self._stdout),
                "".join(self._stderr),
                self.workspace,
            )


def signal_entrypoint(
    env: Mapping[str, str], workspace: Path, ready: str, signum: int
) -> tuple[int, str, float]:
    """Start the step; once it has logged a line containing ``ready`` send ``signum``.

    (exit code, stderr, seconds from the signal to the exit)."""
    step = StepProcess(env, workspace)
    try:
        step.wait_for(ready)
        sent = time.monotonic()
        step.process.send_signal(signum)
        step.process.wait(timeout=5)
        seconds = time.monotonic() - sent
    finally:
        run = step.finish(timeout=5)
    return run.code, run.stderr, seconds


@contextlib.contextmanager
def simulating(*options: str) -> Iterator[tuple[StepProcess, str]]:
    """`mendix-build simulate --port 0 OPTIONS` in its own process, once its banner is out:
    (the process, whose output is read as it comes, the API base URL)."""
    step = StepProcess(os.environ, Path.cwd(), "simulate", "--port", "0", *options)
    try:
        step.wait_for("Stop with Ctrl-C.", printed=True)
        first = step.stdout.splitlines()[0]
        assert first.startswith("Mendix Build API simulator at http://127.0.0.1:"), first
        yield step, first.split(" at ", 1)[1].split(" ", 1)[0]
    finally:
        step.process.terminate()
        step.finish(timeout=10)


@contextlib.contextmanager
def simulate_process(*options: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`mendix-build simulate --port 0 OPTIONS` in its own process: (process, API base URL)."""
    with simulating(*options) as (step, base):
        yield step.process, base


def simulate_inputs(base: str, **overrides: str) -> dict[str, str]:
    """Inputs for the 'calc' app of a simulate_process at ``base``, with the command's demo
    credentials: the newest revision, no download."""
    values = {
        "app-id": "calc",
        "username": "demo@example.com",
        "api-key": "demo-api-key",
        "base-url": base,
        "revision": "latest",
        "version": "1.0.0",
        "download": "false",
        "poll-interval": "0.1",
    }
    values.update({k.replace("_", "-"): v for k, v in overrides.items()})
    return values


@pytest.fixture
def rig() -> Iterator[Rig]:
    """The step's services and the simulator on one fake clock."""
    from tests.rig import make_rig

    yield from make_rig()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "workspace"
    path.mkdir()
    return path


def check_jsonschema(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    """check-jsonschema's verdict on ``path`` against one of its built-in schemas.

    It is a test tool, not a library of the step: ``CHECK_JSONSCHEMA`` names its command
    where the test environment's libraries cannot run it (CI's run at the step's library
    floors, whose click is older than the tool accepts)."""
    command = os.environ.get("CHECK_JSONSCHEMA")
    program = shlex.split(command) if command else [sys.executable, "-m", "check_jsonschema"]
    return subprocess.run(
        [*program, "--builtin-schema", schema, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """A test CA and a certificate of 127.0.0.1 (and localhost) it signed."""
    return make_certificates(tmp_path_factory.mktemp("tls"))


NODE_TOOLS = ROOT / ".ci" / "node-tools"


@pytest.fixture(scope="session")
def node_tools(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin directory of the Node.js tools .ci/node locks (gitlab-ci-local, GitHub's
    workflow parser, a Node.js 22): those .ci/run installed (MENDIX_BUILD_NODE_TOOLS), else
    installed here once with .ci/node-tools. Skipped only where npm itself is missing."""
    given = os.environ.get("MENDIX_BUILD_NODE_TOOLS")
    if given:
        return Path(given) / "node_modules" / ".bin"
    if shutil.which("npm") is None or shutil.which("npx") is None:
        pytest.skip("Node.js (npm, npx) is not installed")
    target = tmp_path_factory.mktemp("node-tools")
    done = subprocess.run(
        ["bash", str(NODE_TOOLS), str(target)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f".ci/node-tools failed:\n{done.stdout}{done.stderr}"
    return target / "node_modules" / ".bin"
