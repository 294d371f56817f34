"""Files of the repository are data: a config or settings file is read only when it is a
regular file of bounded size, and a config file cannot send the credentials elsewhere."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ci_step.config import config_file
from ci_step.config.config_file import MAX_CONFIG_BYTES, Unreadable, read_yaml
from ci_step.simulator import Simulator
from tests.conftest import (
    ENTRYPOINT,
    Run,
    base_env,
    github_env,
    inputs,
    mendix_env,
    run_entrypoint,
)

MEMORY = 1 << 30  # bytes: a step that reads a device fills this, not the machine


def bounded(env: dict[str, str], workspace: Path) -> Run:
    """The entrypoint with its memory bounded, for files that could exhaust it; its time is
    bounded as run_entrypoint's is (a step that hangs on a pipe fails the test, and the
    bound is no race with a slow machine). The limit is set by a shell that then becomes
    the step: no Python runs between fork and exec in this process, where the simulator's
    threads are serving (what subprocess's preexec_fn would risk)."""
    limit = f'ulimit -v {MEMORY // 1024} && exec "$@"'
    done = subprocess.run(
        ["sh", "-c", limit, "sh", sys.executable, str(ENTRYPOINT)],
        env=env,
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr, workspace)


def refused(run_code: int, stderr: str, sim: Simulator, *texts: str) -> None:
    assert run_code == 2, stderr
    for text in texts:
        assert text in stderr
    assert "Traceback" not in stderr
    assert sim.requests() == []


# -- what is read: a regular file, bounded ------------------------------------------------


def run_with_config(sim: Simulator, workspace: Path, path: str) -> tuple[int, str]:
    env = base_env(workspace.parent) | mendix_env(inputs(sim)) | {"MENDIX_CONFIG": path}
    run = bounded(env, workspace)
    return run.code, run.stderr


def test_a_config_file_linked_to_a_device_is_refused(sim: Simulator, workspace: Path) -> None:
    (workspace / "mendix.yml").symlink_to("/dev/zero")
    code, stderr = run_with_config(sim, workspace, "mendix.yml")
    refused(code, stderr, sim, "config file mendix.yml is a symlink to something outside")


def test_a_config_file_that_is_a_pipe_is_refused(sim: Simulator, workspace: Path) -> None:
    os.mkfifo(workspace / "mendix.yml")
    code, stderr = run_with_config(sim, workspace, "mendix.yml")
    refused(code, stderr, sim, "config file mendix.yml is not a regular file")


def test_a_device_named_as_the_config_file_is_refused(sim: Simulator, workspace: Path) -> None:
    """Outside the workspace the job names the file itself; still only a regular one is read."""
    code, stderr = run_with_config(sim, workspace, "/dev/zero")
    refused(code, stderr, sim, "config file /dev/zero is not a regular file")


def test_a_config_file_over_the_limit_is_refused(sim: Simulator, workspace: Path) -> None:
    (workspace / "mendix.yml").write_bytes(b"#" * (MAX_CONFIG_BYTES + 1))
    code, stderr = run_with_config(sim, workspace, "mendix.yml")
    refused(code, stderr, sim, f"config file mendix.yml is larger than {MAX_CONFIG_BYTES} bytes")


def test_a_symlink_to_a_file_in_the_workspace_is_read(sim: Simulator, workspace: Path) -> None:
    (workspace / "calc.yml").write_text("download: false\n", encoding="utf-8")
    (workspace / "mendix.yml").symlink_to("calc.yml")
    code, stderr = run_with_config(sim, workspace, "mendix.yml")
    assert code == 0, stderr
    assert not list(workspace.glob("*.mda"))  # the file's download: false was read


def test_a_symlink_to_a_file_outside_the_workspace_is_refused(
    sim: Simulator, workspace: Path
) -> None:
    outside = workspace.parent / "secret.yml"
    outside.write_text("download: false\n", encoding="utf-8")
    (workspace / "mendix.yml").symlink_to(outside)
    code, stderr = run_with_config(sim, workspace, "mendix.yml")
    refused(code, stderr, sim, "config file mendix.yml is a symlink to something outside")


def test_the_reader_takes_a_regular_file_up_to_the_limit(tmp_path: Path) -> None:
    """(Devices and pipes are tried in a child process: see above.)"""
    with pytest.raises(Unreadable, match="file x is not a regular file"):
        read_yaml(tmp_path, "file x", 100)
    exact = tmp_path / "exact.yml"
    exact.write_text("a: " + "b" * 97, encoding="utf-8")
    assert read_yaml(exact, "file x", 100)[0] == {"a": "b" * 97}
    exact.write_text("a: " + "b" * 98, encoding="utf-8")
    with pytest.raises(Unreadable, match="larger than 100 bytes"):
        read_yaml(exact, "file x", 100)


def test_a_settings_file_that_is_a_pipe_is_refused(sim: Simulator, workspace: Path) -> None:
    os.mkfifo(workspace / "settings.yml")
    values = inputs(sim, environment="Acceptance", settings_file="settings.yml")
    run = bounded(base_env(workspace.parent) | mendix_env(values), workspace)
    refused(run.code, run.stderr, sim, "settings file settings.yml is not a regular file")


# -- API roots: only Mendix's hosts from a file -------------------------------------------


@pytest.mark.parametrize("key", ["base-url", "repository-url"])
@pytest.mark.parametrize(
    "url",
    [
        "https://collector.example.com",
        "http://deploy.mendix.com",
        "https://mendix.com.example.com",
        "https://evilmendix.com",
        "https://deploy.mendix.com@example.com",
        "https://example.com#.mendix.com",
        "https://deploy.mendix.com\u3002example.com",
        "https://127.0.0.1:8080",
        "not a url",
    ],
)
def test_a_file_names_no_api_root_but_mendix_hosts(key: str, url: str, tmp_path: Path) -> None:
    path = tmp_path / "mendix.yml"
    path.write_text(f"{key}: '{url}'\n", encoding="utf-8")
    loaded = config_file.load(str(path), tmp_path)
    assert loaded.values == {}
    (problem,) = loaded.problems
    assert problem.startswith(f"'{key}' in config file {path} is not an https URL of mendix.com")
    assert f"set another {key} in the job itself (MENDIX_{key.upper().replace('-', '_')}" in (
        problem
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://deploy.mendix.com",
        "https://repository.api.mendix.com/",
        "https://mendix.com",
        "https://Deploy.Mendix.COM:443",
    ],
)
def test_mendix_hosts_may_come_from_a_file(url: str, tmp_path: Path) -> None:
    path = tmp_path / "mendix.yml"
    path.write_text(f"base-url: {url}\nrepository-url: {url}\n", encoding="utf-8")
    loaded = config_file.load(str(path), tmp_path)
    assert loaded.problems == []
    assert loaded.values == {"base-url": url, "repository-url": url}


def test_a_config_file_cannot_send_the_api_key_elsewhere(sim: Simulator, workspace: Path) -> None:
    """A pull request that changes base-url in the repository's file gets exit 2, and the
    simulator (standing in for any host) gets nothing: not even a request."""
    (workspace / "mendix.yml").write_text(f"base-url: {sim.base_url}\n", encoding="utf-8")
    values = inputs(sim, config="mendix.yml")
    del values["base-url"]
    run = run_entrypoint(github_env(workspace, values), workspace)
    refused(
        run.code,
        run.stderr,
        sim,
        "'base-url' in config file mendix.yml is not an https URL of mendix.com",
        "with: base-url: in GitHub Actions",
    )


def test_the_job_itself_may_name_any_api_root(sim: Simulator, workspace: Path) -> None:
    (workspace / "mendix.yml").write_text("download: false\n", encoding="utf-8")
    values = inputs(sim, config="mendix.yml")  # base-url: the simulator, from the job
    run = run_entrypoint(github_env(workspace, values), workspace)
    assert run.code == 0, run.stderr
    assert len(sim.requests("api", "POST")) == 1
