"""Output files that the job's later steps can use: readable by another user (the umask
decides, as for any plain file), and agreeing with the exit code even when one of them
could not be written."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from ci_step.simulator import Simulator
from tests import ci_formats
from tests.conftest import CIS, Run, github_env, gitlab_env, inputs, run_entrypoint


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(
    ("umask", "expected"), [(0o022, 0o644), (0o027, 0o640)], ids=["022", "027"]
)
@pytest.mark.parametrize("ci", list(CIS))
def test_every_written_file_honours_the_umask(
    ci: str, umask: int, expected: int, sim: Simulator, workspace: Path
) -> None:
    values = inputs(sim, result_file="reports/result.json")
    run = run_entrypoint(CIS[ci](workspace, values), workspace, umask=umask)
    assert run.code == 0, run.stderr
    written = [p for p in workspace.rglob("*") if p.is_file()]
    if ci == "github":
        written += list((workspace.parent / "file_commands").iterdir())
    summaries = list((workspace.parent / "agent_temp").glob("*/*"))
    written += summaries
    names = {p.name for p in written}
    assert {"result.json", "calc-1.2.3.mda"} <= names
    expected_names = {
        "github": {"set_output", "step_summary"},
        "gitlab": {"mendix-build.env"},
        "jenkins": {"mendix-build.properties", "mendix-build.json"},
        "azure": {"mendix-build.md"},  # the summary, in the agent's temp directory
    }[ci]
    assert expected_names <= names
    assert {p.name: oct(mode(p)) for p in written} == {p.name: oct(expected) for p in written}
    assert oct(mode(workspace / "reports")) == oct(0o777 & ~umask)
    for summary in summaries:
        assert oct(mode(summary.parent)) == oct(0o777 & ~umask)


def github_run(sim: Simulator, workspace: Path, **files: str) -> Run:
    """The step in GitHub Actions writing result.json; ``files`` override file-command paths."""
    env = github_env(workspace, inputs(sim, result_file="result.json")) | files
    return run_entrypoint(env, workspace)


def test_unwritable_github_output_makes_every_report_say_so(
    sim: Simulator, workspace: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-dir" / "out"
    run = github_run(sim, workspace, GITHUB_OUTPUT=str(missing))
    assert run.code == 2, run.stderr
    document = run.result()  # its exit-code agrees with the process's
    assert document["result"] == "error"
    error = document["error"]
    assert isinstance(error, dict)
    assert f"{missing}: cannot write (No such file or directory)" in error["message"]
    assert "line breaks" not in error["fix"]
    assert "directory" in error["fix"]
    summary = (workspace.parent / "file_commands" / "step_summary").read_text("utf-8")
    assert "✅" not in summary
    assert summary.startswith("### ⚠️ Mendix build: error")
    assert str(missing) in summary
    assert f"{missing}: cannot write" in run.stderr
    assert not missing.parent.exists()


def test_unwritable_step_summary_rewrites_what_was_written_before(
    sim: Simulator, workspace: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-dir" / "summary"
    run = github_run(sim, workspace, GITHUB_STEP_SUMMARY=str(missing))
    assert run.code == 2, run.stderr
    error = run.result()["error"]  # its exit-code agrees with the process's
    assert isinstance(error, dict)
    assert str(missing) in error["message"]
    # GitHub keeps the last value of an output set twice: the later block wins.
    output = (workspace.parent / "file_commands" / "set_output").read_text("utf-8")
    outputs = ci_formats.github_file_command(output)
    assert outputs["result"] == "error"
    assert outputs["artifact-path"] == "calc-1.2.3.mda"


def test_unwritable_result_file_is_reported_by_the_outputs_written_after_it(
    sim: Simulator, workspace: Path
) -> None:
    (workspace / "reports").write_text("a file, not a directory", encoding="utf-8")
    env = gitlab_env(workspace, inputs(sim, result_file="reports/result.json"))
    run = run_entrypoint(env, workspace)
    assert run.code == 2, run.stderr
    variables = ci_formats.gitlab_dotenv((workspace / "mendix-build.env").read_bytes())
    assert variables["MENDIX_RESULT"] == "error"
    assert f"{workspace / 'reports' / 'result.json'}: cannot write" in run.stderr
