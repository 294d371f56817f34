"""What the API answers is foreign text: bounded in size and depth, and checked before it
becomes an output a later job may read (a GitLab dotenv file is often sourced by a shell)."""

from __future__ import annotations

from pathlib import Path

from ci_step.simulator import Fault, Simulator
from tests.conftest import Run, run_local

MIB = 1024 * 1024
LISTING = r"/apps/calc/packages$"


def message(run: Run) -> str:
    error = run.result()["error"]
    assert isinstance(error, dict), run.stderr
    text = error["message"]
    assert isinstance(text, str)
    return text


# -- answers too deep or too large ---------------------------------------------------------


def test_an_answer_nested_too_deeply_is_an_api_error(sim: Simulator, workspace: Path) -> None:
    sim.add_fault(Fault("nested", method="GET", path=LISTING, size=300_000))
    run = run_local(sim, workspace, download="false")
    assert run.code == 5, run.stderr
    assert "Traceback" not in run.stderr
    assert message(run) == (
        "The Mendix API's answer (HTTP 200) while listing packages is JSON nested more than "
        "64 levels deep."
    )
    assert sim.requests("api", "POST") == []


def test_an_answer_nested_a_little_too_deeply_is_an_api_error(
    sim: Simulator, workspace: Path
) -> None:
    """Deep enough to walk into a recursion limit later, not in the parser."""
    sim.add_fault(Fault("nested", method="GET", path=LISTING, size=65))
    run = run_local(sim, workspace, download="false")
    assert run.code == 5, run.stderr
    assert "nested more than 64 levels deep" in message(run)


def test_an_error_answer_nested_too_deeply_still_gives_the_status(
    sim: Simulator, workspace: Path
) -> None:
    body = '{"error": ' * 5000 + "{}" + "}" * 5000
    sim.add_fault(Fault("status", status=400, method="GET", path=LISTING, body=body))
    run = run_local(sim, workspace, download="false")
    assert run.code == 5, run.stderr
    assert "Traceback" not in run.stderr
    assert "HTTP 400, no error details" in message(run)


def test_an_answer_over_4_mib_is_an_api_error_and_read_no_further(
    sim: Simulator, workspace: Path
) -> None:
    """Valid JSON, padded: only its size is wrong. The step stops reading at the limit and
    closes the connection, so the simulator cannot send it all (64 MiB is more than the
    socket buffers of both ends hold)."""
    size = 64 * MIB
    sim.add_fault(Fault("padded", method="GET", path=LISTING, size=size))
    run = run_local(sim, workspace, download="false")
    assert run.code == 5, run.stderr
    assert message(run) == (
        "The Mendix API's answer while listing packages is larger than 4.0 MiB; the step read "
        "no more of it."
    )
    (answer,) = [r for r in sim.requests("api", "GET", LISTING) if r.fault == "padded"]
    assert answer.answered.wait(30)
    assert answer.sent < size
    assert sim.requests("api", "POST") == []


def test_an_answer_under_the_limit_is_read_whole(sim: Simulator, workspace: Path) -> None:
    sim.add_fault(Fault("padded", method="GET", path=LISTING, size=3 * MIB))
    run = run_local(sim, workspace, download="false")
    assert run.code == 0, run.stderr
    (answer,) = [r for r in sim.requests("api", "GET", LISTING) if r.fault == "padded"]
    assert answer.answered.wait(30)
    assert answer.sent == 3 * MIB
