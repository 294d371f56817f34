"""The container entrypoint's dispatch, a non-root run, logs, and where secrets may go."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ci_step.simulator import Fault, Simulator
from tests.conftest import (
    API_KEY,
    ENTRYPOINT,
    USER,
    base_env,
    inputs,
    jenkins_env,
    mendix_env,
    run_entrypoint,
)


def test_entrypoint_knows_every_subcommand() -> None:
    import importlib.util

    from ci_step.cli import cli

    spec = importlib.util.spec_from_file_location("entrypoint", ENTRYPOINT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert set(module.SUBCOMMANDS) == set(cli.commands)


def test_other_commands_are_executed(workspace: Path) -> None:
    run = run_entrypoint(base_env(workspace.parent), workspace, "echo", "hello from the image")
    assert (run.code, run.stdout) == (0, "hello from the image\n")


def test_cat_runs_as_jenkins_starts_the_container(workspace: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ENTRYPOINT), "cat"],
        input="kept alive\n",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (done.returncode, done.stdout) == (0, "kept alive\n")


def test_unknown_command_exits_127(workspace: Path) -> None:
    run = run_entrypoint(base_env(workspace.parent), workspace, "no-such-command-here")
    assert run.code == 127
    assert "cannot run 'no-such-command-here'" in run.stderr


def test_mendix_build_prefix_and_tool_version(workspace: Path) -> None:
    run = run_entrypoint(base_env(workspace.parent), workspace, "mendix-build", "-V")
    assert run.code == 0
    assert "mendix-build, version" in run.stdout


def test_mendix_build_prefix_runs_the_step(sim: Simulator, workspace: Path) -> None:
    env = base_env(workspace.parent) | mendix_env(inputs(sim, download="false"))
    run = run_entrypoint(env, workspace, "mendix-build")
    assert run.code == 0, run.stderr
    assert len(sim.requests("api", "POST")) == 1


def test_demo_runs_against_the_built_in_simulator(workspace: Path) -> None:
    run = run_entrypoint(base_env(workspace.parent), workspace, "demo", timeout=120)
    assert run.code == 0, run.stderr
    assert "MENDIX_RESULT=success" in run.stdout
    assert "result<<ghadelimiter_" in run.stdout
    assert "Exit code: 0" in run.stdout


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="mendix-build-nonroot-"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _nobody_can_run_python() -> bool:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return False
    try:
        subprocess.run(
            [sys.executable, "-c", "import ci_step"],
            user=65534,
            group=65534,
            capture_output=True,
            timeout=60,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return True


@pytest.mark.skipif(
    not _nobody_can_run_python(), reason="needs root, and an interpreter that uid 65534 may run"
)
def test_runs_as_unprivileged_user_with_unwritable_home(sim: Simulator, shared_dir: Path) -> None:
    workspace = shared_dir / "ws"
    workspace.mkdir()
    workspace.chmod(0o777)
    env = jenkins_env(workspace, inputs(sim)) | {"HOME": "/nonexistent"}
    done = subprocess.run(
        [sys.executable, str(ENTRYPOINT)],
        env=env,
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
        user=65534,
        group=65534,
    )
    assert done.returncode == 0, done.stderr
    assert (workspace / "calc-1.2.3.mda").stat().st_uid == 65534
    assert (workspace / "mendix-build.properties").is_file()


def test_json_logs(sim: Simulator, workspace: Path) -> None:
    env = base_env(workspace.parent) | mendix_env(inputs(sim, log_format="json"))
    run = run_entrypoint(env, workspace)
    assert run.code == 0, run.stderr
    events = [json.loads(line) for line in run.stderr.splitlines()]
    assert {"event", "level", "timestamp"} <= set(events[0])
    assert [e["event"] for e in events if e["event"].startswith("Build status")] == [
        "Build status: Queued",
        "Build status: Building",
        "Build status: Uploading",
        "Build status: Succeeded",
    ]


def test_mendix_headers_go_to_the_api_only(sim: Simulator, workspace: Path) -> None:
    env = base_env(workspace.parent) | mendix_env(inputs(sim))
    assert run_entrypoint(env, workspace).code == 0
    api, storage = sim.requests("api"), sim.requests("storage")
    assert api
    assert storage
    assert all(r.headers.get("mendix-apikey") == API_KEY for r in api)
    assert all(r.headers.get("mendix-username") == USER for r in api)
    for request in storage:
        assert "mendix-apikey" not in request.headers
        assert "mendix-username" not in request.headers
        assert API_KEY not in json.dumps(request.headers)


def test_redirect_from_api_is_not_followed(sim: Simulator, workspace: Path) -> None:
    sim.add_fault(Fault("redirect", method="POST", location=f"{sim.storage_url}/steal"))
    env = base_env(workspace.parent) | mendix_env(inputs(sim))
    run = run_entrypoint(env, workspace)
    assert run.code == 5
    assert "redirect" in run.stderr
    assert "not followed" in run.stderr
    assert sim.requests("storage") == []


def test_secret_echoed_by_the_api_is_redacted(sim: Simulator, workspace: Path) -> None:
    body = json.dumps({"errorCode": "INVALID_PARAMETERS", "errorMessage": f"bad {API_KEY}"})
    sim.add_fault(Fault("status", method="POST", status=400, body=body))
    env = base_env(workspace.parent) | mendix_env(inputs(sim, result_file="r.json"))
    run = run_entrypoint(env, workspace)
    assert run.code == 5
    assert "bad ***" in run.stderr
    assert API_KEY not in run.stderr + run.stdout + run.file("r.json")


def test_the_process_ends_as_python_ends(workspace: Path) -> None:
    """The command's exit code, and Python's own ending runs (its atexit handlers)."""
    script = (
        "import atexit, sys\n"
        "atexit.register(lambda: sys.stderr.write('ended as Python ends\\n'))\n"
        "from ci_step.cli import main\n"
        "main(sys.argv[1:])\n"
    )
    env = base_env(workspace.parent)
    for args, code, out in ((["--tool-version"], 0, "mendix-build, version"), (["list"], 2, "")):
        done = subprocess.run(
            [sys.executable, "-c", script, *args],
            env=env,
            cwd=workspace,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == code, done.stderr
        assert out in done.stdout
        assert done.stderr.endswith("ended as Python ends\n")


def test_a_reader_that_went_away_ends_the_run_with_1_quietly(
    sim: Simulator, workspace: Path
) -> None:
    """`mendix-build show ID | head -c 0`, and output still pending when the command ends:
    it goes nowhere, the exit code says so, and no complaint follows."""
    package = sim.service.seed_package("calc", "1.0.0")
    pending = "import sys; sys.stdout.write('pending'); from ci_step.cli import main; main()"
    env = base_env(workspace.parent) | mendix_env(inputs(sim))
    for command, code in (
        ([str(ENTRYPOINT), "show", package.package_id], 1),
        (["-c", pending, "simulate", "--port", "no-number"], 2),  # a usage error: exit 2
    ):
        read, write = os.pipe()
        os.close(read)  # the reader is gone before anything is written
        try:
            done = subprocess.run(
                [sys.executable, *command],
                env=env,
                cwd=workspace,
                stdout=write,
                stderr=subprocess.PIPE,
                text=True,
                timeout=60,
                check=False,
            )
        finally:
            os.close(write)
        assert done.returncode == code, done.stderr
        assert "Exception" not in done.stderr
        assert "Traceback" not in done.stderr


def test_a_closed_stdout_is_no_traceback(workspace: Path) -> None:
    # the step starts without a stdout: closed by a shell that then becomes the step (no
    # preexec_fn, which is unsafe where a test left threads running)
    done = subprocess.run(
        ["sh", "-c", 'exec "$@" >&-', "sh", sys.executable, str(ENTRYPOINT), "--tool-version"],
        env=base_env(workspace.parent),
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
