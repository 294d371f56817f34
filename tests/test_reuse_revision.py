"""A package is reused only for the revision it was built from: what its Name and the step's
own Description say, the refusal (exit 5) for another revision, the warning when neither
tells, and the `revision` output of every path that hands over a package."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_step.simulator import BuildService, Fault, Simulator
from tests import ci_formats
from tests.conftest import GIT_HEAD, Run, github_env, inputs, run_entrypoint, run_local

ASKED = GIT_HEAD[:10]  # what the inputs ask for: a short hash of the branch head
OTHER = "a1b2c3d4e5f6"  # another commit


def builds(sim: Simulator) -> int:
    return len(sim.requests("api", "POST", r"/packages$"))


def github_run(sim: Simulator, workspace: Path, *args: str, **overrides: str) -> Run:
    (workspace.parent / "file_commands" / "set_output").unlink(missing_ok=True)
    return run_entrypoint(github_env(workspace, inputs(sim, **overrides)), workspace, *args)


def outputs(run: Run) -> dict[str, str]:
    """The step's outputs as the GitHub runner reads GITHUB_OUTPUT."""
    path = run.workspace.parent / "file_commands" / "set_output"
    return ci_formats.github_file_command(path.read_text(encoding="utf-8"))


def hide_names(sim: Simulator) -> None:
    """Every package answer names no revision in its Name: the reference's own example."""
    sim.add_fault(
        Fault(
            "rewrite",
            method="GET",
            path=r"/packages",
            times=-1,
            field_name="Name",
            field_value="Main line-",
        )
    )


def built_by_the_step(sim: Simulator, workspace: Path, revision: str) -> str:
    """Version 1.2.3 built by a run of the step from ``revision``; its package id."""
    first = run_local(sim, workspace, revision=revision, download="false")
    assert first.code == 0, first.stderr
    return str(first.result()["package-id"])


# -- the same revision ----------------------------------------------------------------------


def test_the_same_revision_is_reused_and_the_output_is_its_full_hash(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    old = service.seed_package("calc", "1.2.3", revision=GIT_HEAD)
    run = github_run(sim, workspace, revision=ASKED.upper(), download="false")
    assert run.code == 0, run.stderr
    assert builds(sim) == 0
    assert "Reusing the existing package" in run.stderr
    out = outputs(run)
    assert (out["package-id"], out["reused"]) == (old.package_id, "true")
    assert out["revision"] == GIT_HEAD


def test_a_package_of_the_asked_revision_goes_before_a_newer_one_of_another(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    asked = service.seed_package("calc", "1.2.3", revision=GIT_HEAD, age_seconds=7200)
    service.seed_package("calc", "1.2.3", revision=OTHER, age_seconds=60)
    run = github_run(sim, workspace, download="false")
    assert run.code == 0, run.stderr
    assert builds(sim) == 0
    assert (outputs(run)["package-id"], outputs(run)["revision"]) == (asked.package_id, GIT_HEAD)


# -- another revision ------------------------------------------------------------------------


def refused(run: Run, sim: Simulator, package_id: str, posted: int) -> None:
    """Exit 5 naming the package, both revisions and both ways out; nothing delivered."""
    assert run.code == 5, run.stderr
    assert builds(sim) == posted
    assert f"Package {package_id} (" in run.stderr
    assert f"built from revision {OTHER}, not from revision {ASKED} that this run asks for" in (
        run.stderr
    )
    assert "give a new `with: version:` (or `with: version: auto`) to build revision" in run.stderr
    assert "or set `with: on-existing: rebuild` to build it again with this version" in run.stderr
    assert "Traceback" not in run.stderr
    out = outputs(run)
    assert (out["result"], out["reused"]) == ("error", "false")
    assert (out["package-id"], out["revision"], out["artifact-path"]) == ("", "", "")


def test_another_revision_named_by_the_package_name_is_refused(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    old = service.seed_package("calc", "1.2.3", revision=OTHER)  # Description: "seeded"
    run = github_run(sim, workspace)
    refused(run, sim, old.package_id, posted=0)
    assert list(workspace.glob("*.mda")) == []


def test_another_revision_named_by_the_steps_description_is_refused(
    sim: Simulator, workspace: Path
) -> None:
    package_id = built_by_the_step(sim, workspace, OTHER)
    hide_names(sim)
    run = github_run(sim, workspace)
    refused(run, sim, package_id, posted=1)


def test_attaching_to_a_build_of_another_revision_is_refused(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    service.durations.building = 60.0
    started = run_local(sim, workspace, "start", revision=OTHER)
    assert started.code == 0, started.stderr
    run = github_run(sim, workspace)
    refused(run, sim, started.stdout.strip(), posted=1)
    assert "(Queued)" in run.stderr or "(Building)" in run.stderr


def test_start_refuses_a_package_of_another_revision(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    old = service.seed_package("calc", "1.2.3", revision=OTHER)
    run = github_run(sim, workspace, "start")
    refused(run, sim, old.package_id, posted=0)
    assert run.stdout == ""


@pytest.mark.parametrize(
    ("asked", "code", "revision"),
    [("120", 0, "120"), ("12", 5, ""), ("1200", 5, "")],
)
def test_svn_revisions_are_the_same_only_when_equal(
    asked: str, code: int, revision: str, sim: Simulator, service: BuildService, workspace: Path
) -> None:
    service.seed_package("legacy", "1.0.0", revision="120")
    run = run_local(
        sim, workspace, app_id="legacy", branch="trunk", revision=asked, version="1.0.0"
    )
    assert run.code == code, run.stderr
    assert builds(sim) == 0
    assert run.result()["revision"] == revision


# -- unknown ------------------------------------------------------------------------------


def test_a_package_whose_revision_is_unknown_is_reused_with_a_warning(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    old = service.seed_package("calc", "1.2.3", revision=OTHER)  # Description: "seeded"
    hide_names(sim)
    run = github_run(sim, workspace, download="false")
    assert run.code == 0, run.stderr
    assert builds(sim) == 0
    assert (
        f"The revision package {old.package_id} was built from could not be determined"
    ) in run.stderr
    assert "the revision output stays empty" in run.stderr
    out = outputs(run)
    assert (out["package-id"], out["reused"]) == (old.package_id, "true")
    assert out["revision"] == ""


# -- dry run ------------------------------------------------------------------------------


def test_dry_run_says_it_would_reuse_the_package_of_the_same_revision(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    old = service.seed_package("calc", "1.2.3", revision=GIT_HEAD)
    run = run_local(sim, workspace, "--dry-run")
    assert run.code == 0, run.stderr
    assert (
        f"exists ({old.package_id}, Succeeded); on-existing: reuse would reuse it "
        f"(built from revision {GIT_HEAD})."
    ) in run.stdout
    assert run.result()["revision"] == GIT_HEAD


def test_dry_run_says_it_would_refuse_a_package_of_another_revision(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    old = service.seed_package("calc", "1.2.3", revision=OTHER)
    run = github_run(sim, workspace, dry_run="true")
    assert run.stdout.startswith("Dry run: nothing was started.\n")
    assert (
        f"exists ({old.package_id}, Succeeded); on-existing: reuse would refuse it: "
        f"Package {old.package_id} (Succeeded) with version 1.2.3 was built from revision {OTHER}"
    ) in run.stdout
    refused(run, sim, old.package_id, posted=0)


# -- the revision output of a package handed over by id ---------------------------------


@pytest.mark.parametrize("told_by", ["name", "description"])
def test_download_reports_the_revision_the_package_was_built_from(
    told_by: str, sim: Simulator, service: BuildService, workspace: Path
) -> None:
    if told_by == "name":
        package_id = service.seed_package("calc", "1.2.3", revision=OTHER).package_id
    else:
        package_id = built_by_the_step(sim, workspace, OTHER)
        hide_names(sim)
    run = github_run(sim, workspace, "download", package_id)
    assert run.code == 0, run.stderr
    assert outputs(run)["revision"] == OTHER


def test_deploying_a_package_id_reports_its_revision(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    service.apps["calc"].environments["Acceptance"].start_seconds = 0.3
    package = service.seed_package("calc", "3.0.0", revision=OTHER)
    run = github_run(
        sim, workspace, environment="Acceptance", package_id=package.package_id, version=""
    )
    assert run.code == 0, run.stderr
    assert outputs(run)["revision"] == OTHER


def test_promotion_reports_the_revision_of_the_package_it_deploys(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    service.apps["calc"].environments["Test"].start_seconds = 0.3
    service.seed_package("calc", "1.1.0", revision=OTHER, deployed_to="Acceptance")
    run = github_run(
        sim, workspace, promote_from="Acceptance", environment="Test", revision="", version=""
    )
    assert run.code == 0, run.stderr
    assert outputs(run)["revision"] == OTHER
