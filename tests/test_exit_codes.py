"""Every exit code of the contract, produced by the entrypoint against the simulator.

0, 1, 2 and 4 are covered per CI in test_pipelines.py; here the rest."""

from __future__ import annotations

import re
import signal
import socket
from pathlib import Path

import pytest

from ci_step import signals
from ci_step.simulator import BuildService, Fault, Simulator
from tests import ci_formats
from tests.conftest import (
    API_KEY,
    ROOT,
    gitlab_env,
    inputs,
    run_local,
    signal_entrypoint,
)
from tests.test_docs import step_errors, table_rows


def test_wrong_api_key_exits_3_without_retry(sim: Simulator, workspace: Path) -> None:
    run = run_local(sim, workspace, api_key="wrong-key-0000")
    assert run.code == 3, run.stderr
    assert "refused the credentials" in run.stderr
    assert "HTTP 401" in run.stderr
    assert len(sim.requests("api")) == 1
    assert run.result()["result"] == "error"


def test_no_rights_on_app_exits_3(sim: Simulator, service: BuildService, workspace: Path) -> None:
    service.apps["calc"].denied = True
    run = run_local(sim, workspace)
    assert run.code == 3
    assert "HTTP 403" in run.stderr
    assert "API Rights" in run.stderr
    assert len(sim.requests("api")) == 1


def test_unknown_app_exits_5_with_error_code(sim: Simulator, workspace: Path) -> None:
    run = run_local(sim, workspace, app_id="nosuchapp")
    assert run.code == 5
    assert "APP_NOT_FOUND: App not found." in run.stderr
    assert "Fix: check `MENDIX_APP_ID`" in run.stderr
    document = run.result()
    assert "APP_NOT_FOUND" in str(document["error"])


def test_api_unreachable_exits_5(sim: Simulator, workspace: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    run = run_local(sim, workspace, base_url=f"http://127.0.0.1:{closed}", timeout="3")
    assert run.code == 5, run.stderr
    assert "connection refused" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize(
    ("name", "args", "label"),
    [
        ("base-url", (), "MENDIX_BASE_URL"),
        ("base-url", ("--base-url", "https://mendix-api.invalid"), "--base-url"),
        ("repository-url", ("--repository-url", "https://repo-api.invalid"), "--repository-url"),
    ],
)
def test_unknown_host_exits_5_at_once_naming_host_and_input(
    name: str, args: tuple[str, ...], label: str, sim: Simulator, workspace: Path
) -> None:
    # RFC 6761: names under .invalid never resolve; the local resolver says so at once.
    host = "repo-api.invalid" if name == "repository-url" else "mendix-api.invalid"
    overrides = {"base_url": f"https://{host}"} if not args else {}
    if name == "repository-url":
        overrides = {"revision": "latest", "pat": "pat-1234", "project_id": "p-1"}
    run = run_local(sim, workspace, *args, timeout="5m", **overrides)
    assert run.code == 5, run.stderr
    assert f"The host {host} (from `{label}`) does not exist" in run.stderr
    assert f"Fix: correct the host name in `{label}`" in run.stderr
    assert "retrying" not in run.stderr  # no retries (they took 40 s and more before)
    error = run.result()["error"]
    assert isinstance(error, dict)
    assert host in error["message"]


def test_api_answering_503_until_deadline_exits_5(sim: Simulator, workspace: Path) -> None:
    sim.add_fault(Fault("status", method="GET", status=503, times=-1))
    run = run_local(sim, workspace, timeout="3")
    assert run.code == 5, run.stderr
    assert "HTTP 503" in run.stderr
    assert sim.requests("api", "POST") == []  # the package list comes first: nothing started
    assert len(sim.requests("api", "GET")) >= 2  # GETs were retried


def test_storage_refusing_download_exits_6(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    sim.add_fault(Fault("status", listener="storage", status=404, times=-1))
    run = run_local(sim, workspace)
    assert run.code == 6, run.stderr
    assert "storage host answered HTTP 404" in run.stderr
    document = run.result()
    assert document["result"] == "error"
    assert document["status"] == "Succeeded"
    assert list(workspace.glob("*.mda")) == []
    assert [p.name for p in workspace.iterdir()] == ["result.json"]


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGHUP, 129)]
)
def test_signal_stops_the_wait_with_outputs(
    signum: int, code: int, sim: Simulator, service: BuildService, workspace: Path
) -> None:
    service.apps["calc"].stuck_builds = True
    # A slow first status answer, as on a loaded machine: the simulator has the request a
    # second before the step has the status. The signal lands once the step has logged the
    # status it read, not once the simulator received the request: the outputs say Queued.
    sim.add_fault(Fault("delay", method="GET", path=r"/packages/[^/]+$", delay=1.0))
    env = gitlab_env(workspace, inputs(sim, timeout="5m"))
    exit_code, stderr, seconds = signal_entrypoint(env, workspace, "Build status: Queued", signum)
    assert seconds < 60  # the wait ends on the signal, not at the 5m timeout (no tight bound)
    assert exit_code == code, stderr
    assert "Traceback" not in stderr
    variables = ci_formats.gitlab_dotenv((workspace / "mendix-build.env").read_bytes())
    assert variables["MENDIX_RESULT"] == "cancelled"
    assert variables["MENDIX_STATUS"] == "Queued"
    assert variables["MENDIX_PACKAGE_ID"] == service.apps["calc"].packages[0].package_id
    assert API_KEY not in stderr


def exit_code_table(page: Path) -> dict[int, str]:
    rows = table_rows(page.read_text(encoding="utf-8"), "| code | meaning |")
    # a link to another page reads differently in the README and in docs/
    return {int(code): re.sub(r", see \[.*?\)", "", meaning) for code, meaning in rows}


def given_exit_codes() -> set[int]:
    """Every exit code the step gives: success, each error's, each handled signal's (128 +
    its number)."""
    errors = {cls.exit_code for cls in step_errors()}
    return {0} | errors | {128 + signum for signum in signals.HANDLED}


def test_exit_codes_are_documented() -> None:
    readme = exit_code_table(ROOT / "README.md")
    assert set(readme) == given_exit_codes()
    assert exit_code_table(ROOT / "docs" / "cli.md") == readme
    action = (ROOT / "action.yml").read_text(encoding="utf-8")
    listed = action[action.index("# Exit codes:") :].split("\nruns:", 1)[0]
    # 70 is a bug, reported as one: no workflow handles it
    assert {int(code) for code in re.findall(r"\b(\d+): ", listed)} == given_exit_codes() - {70}
