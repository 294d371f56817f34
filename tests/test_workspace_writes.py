"""What the step writes stays where its inputs were checked to lead, whatever another
process of the job does to the workspace meanwhile.

Each race is driven by the simulator's ``pause`` fault: the answer stalls (before it
starts, or halfway through the package) until the test has changed the workspace and
created the file that lets it go on. The test waits on what the step has done (its
request arrived, its temporary file exists), never on timing."""

from __future__ import annotations

import stat
import time
from collections.abc import Callable
from pathlib import Path

from ci_step.simulator import BuildService, Fault, Simulator
from tests.conftest import Run, StepProcess, base_env, inputs, mendix_env

SIZE = 200_000
WAIT = 60.0  # seconds: the longest the test waits for the step to get where it pauses


def until(condition: Callable[[], bool], what: str) -> None:
    limit = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < limit, f"the step never got to {what}"
        time.sleep(0.01)


def paused_run(
    sim: Simulator, workspace: Path, fault: Fault, act: Callable[[], None], **values: str
) -> Run:
    """Run the step until ``fault`` holds it, ``act``, then let it go on: its Run."""
    go = workspace.parent / "go"
    fault.until = str(go)
    sim.add_fault(fault)
    env = base_env(workspace.parent) | mendix_env(inputs(sim, **values))
    step = StepProcess(env, workspace)
    try:
        until(lambda: bool(sim.requests(fault.listener, fault.method)), "the paused answer")
        act()
    finally:
        go.touch()
        run = step.finish()
    return run


def part_file(directory: Path) -> Path:
    until(lambda: any(directory.glob(".*.part")), "its temporary file")
    (part,) = directory.glob(".*.part")
    return part


def test_a_part_file_swapped_for_a_symlink_is_neither_chmodded_nor_renamed(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    """A process of the job puts a symlink to a root-only file where the temporary file
    was: the mode is set on the file the step wrote, and the symlink never becomes the
    package."""
    secret = workspace.parent / "root-only"
    secret.write_text("not for the job's other steps\n", encoding="utf-8")
    secret.chmod(0o600)

    def swap() -> None:
        part = part_file(workspace)
        part.unlink()
        part.symlink_to(secret)

    pause = Fault("pause", listener="storage", method="GET", after_bytes=SIZE // 2)
    run = paused_run(sim, workspace, pause, swap, result_file="result.json")
    assert run.code == 6, run.stderr
    assert "The package was not written:" in run.stderr
    assert "was moved or replaced while the step wrote it" in run.stderr
    assert "Traceback" not in run.stderr
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert not (workspace / "calc-1.2.3.mda").is_symlink()
    assert not (workspace / "calc-1.2.3.mda").exists()
    assert run.result()["result"] == "error"


def test_directories_swapped_during_the_download_receive_nothing(
    sim: Simulator, workspace: Path
) -> None:
    """Halfway through the package, the artifact's directory (its temporary file moved
    along) and the result file's directory become symlinks to a directory outside the
    workspace: the step refuses both, and nothing lands outside."""
    outside = workspace.parent / "outside"
    outside.mkdir()
    (workspace / "dist").mkdir()
    (workspace / "out").mkdir()

    def swap() -> None:
        part = part_file(workspace / "dist")
        part.rename(outside / part.name)
        for name in ("dist", "out"):
            (workspace / name).rename(workspace / f"{name}-before")
            (workspace / name).symlink_to(outside)

    pause = Fault("pause", listener="storage", method="GET", after_bytes=SIZE // 2)
    run = paused_run(
        sim, workspace, pause, swap, artifact_path="dist/calc.mda", result_file="out/result.json"
    )
    assert run.code == 6, run.stderr
    assert "The package was not written: dist/.calc.mda." in run.stderr
    assert "out in the workspace became a symlink after the inputs were checked" in run.stderr
    assert "Traceback" not in run.stderr
    assert not (outside / "calc.mda").exists()
    assert not (outside / "result.json").exists()
    assert list((workspace / "dist-before").iterdir()) == []


def test_directories_swapped_before_the_download_receive_nothing(
    sim: Simulator, workspace: Path
) -> None:
    """The inputs are checked at once; while the build runs, the directories named by
    artifact-path and result-file appear as symlinks to a directory outside the workspace."""
    outside = workspace.parent / "outside"
    outside.mkdir()

    def swap() -> None:
        for name in ("dist", "out"):
            (workspace / name).symlink_to(outside)

    pause = Fault("pause", method="POST", path="/packages$")
    run = paused_run(
        sim, workspace, pause, swap, artifact_path="dist/calc.mda", result_file="out/result.json"
    )
    assert run.code == 6, run.stderr
    assert "dist in the workspace became a symlink after the inputs were checked" in run.stderr
    assert "out in the workspace became a symlink after the inputs were checked" in run.stderr
    assert "Traceback" not in run.stderr
    assert list(outside.iterdir()) == []
    assert sim.requests("storage") == []
