"""Re-runs, resolved inputs (revision latest, version auto), dry runs, and every subcommand,
through the entrypoint against the simulator."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from ci_step.simulator import BuildService, Simulator
from tests import ci_formats
from tests.conftest import (
    API_KEY,
    GIT_HEAD,
    base_env,
    gitlab_env,
    inputs,
    run_entrypoint,
    run_local,
)

PAT = "pat-0d9c8b7a6f5e4d3c2b1a-SECRET"


def posted_versions(sim: Simulator) -> list[str]:
    return [json.loads(r.body)["Version"] for r in sim.requests("api", "POST")]


# -- re-runs ----------------------------------------------------------------------------


def test_rerun_after_success_builds_nothing_and_gives_the_same_bytes(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    first = run_local(sim, workspace)
    assert first.code == 0, first.stderr
    one = first.result()
    (workspace / "calc-1.2.3.mda").unlink()
    second = run_local(sim, workspace)
    assert second.code == 0, second.stderr
    assert len(sim.requests("api", "POST")) == 1
    two = second.result()
    assert (one["reused"], two["reused"]) == (False, True)
    assert one["artifact-sha256"] == two["artifact-sha256"]
    assert one["package-id"] == two["package-id"]
    assert "Reusing the existing package" in second.stderr


def test_rerun_while_building_attaches_to_the_build(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    service.durations.building = 2.0
    started = run_local(sim, workspace, "start")
    assert started.code == 0, started.stderr
    package_id = started.stdout.strip()
    attached = run_local(sim, workspace)
    assert attached.code == 0, attached.stderr
    assert len(sim.requests("api", "POST")) == 1
    document = attached.result()
    assert (document["package-id"], document["reused"]) == (package_id, True)
    assert "Attaching to the existing package" in attached.stderr
    assert (workspace / "calc-1.2.3.mda").stat().st_size == 200_000


def test_failed_package_with_the_version_is_built_again(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    old = service.seed_package("calc", "1.2.3", status="Failed")
    result = run_local(sim, workspace)
    assert result.code == 0, result.stderr
    assert posted_versions(sim) == ["1.2.3"]
    assert result.result()["package-id"] != old.package_id
    assert result.result()["reused"] is False


def test_on_existing_fail_exits_5_naming_the_package(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    old = service.seed_package("calc", "1.2.3")
    result = run_local(sim, workspace, on_existing="fail")
    assert result.code == 5
    assert f"A package with version 1.2.3 already exists: {old.package_id} (Succeeded)" in (
        result.stderr
    )
    assert sim.requests("api", "POST") == []


def test_on_existing_rebuild_always_builds(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    service.seed_package("calc", "1.2.3")
    result = run_local(sim, workspace, on_existing="rebuild")
    assert result.code == 0, result.stderr
    assert posted_versions(sim) == ["1.2.3"]
    # One listing, taken just before the POST: it only tells the new build apart from the
    # old one should the start's answer be lost; it never leads to a reuse.
    calls = [r.method for r in sim.requests("api", path=r"/packages$")]
    assert calls == ["GET", "POST"]


@pytest.mark.parametrize("version", ["1.2.4", "auto"])
def test_a_new_build_lists_the_packages_once_before_it_starts(
    version: str, sim: Simulator, service: BuildService, workspace: Path
) -> None:
    service.seed_package("calc", "1.2.3")
    result = run_local(sim, workspace, version=version)
    assert result.code == 0, result.stderr
    assert posted_versions(sim) == ["1.2.4"]
    # the plan's listing both looks for a package to reuse and tells a lost start's build
    # apart from the old ones
    calls = [r.method for r in sim.requests("api", path=r"/packages$")]
    assert calls == ["GET", "POST"]


# -- resolved inputs ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("auto", "1.10.1"), ("auto-minor", "1.11.0"), ("auto-major", "2.0.0")],
)
def test_version_auto(
    mode: str, expected: str, sim: Simulator, service: BuildService, workspace: Path
) -> None:
    for version in ("1.2.9", "1.10.0", "0.9.99"):
        service.seed_package("calc", version)
    result = run_local(sim, workspace, version=mode, download="false")
    assert result.code == 0, result.stderr
    assert posted_versions(sim) == [expected]
    assert result.result()["version"] == expected


def test_version_auto_without_packages_is_1_0_0(sim: Simulator, workspace: Path) -> None:
    result = run_local(sim, workspace, version="auto")
    assert result.code == 0, result.stderr
    assert posted_versions(sim) == ["1.0.0"]
    assert (workspace / "calc-1.0.0.mda").is_file()


@pytest.mark.parametrize(
    ("branch", "head", "path"),
    [
        ("main", GIT_HEAD, "/api/1/apps/calc/branches/main"),
        ("branches/feature", "a1b2c3d4e5f6", "/api/1/apps/calc/branches/branches%2Ffeature"),
    ],
)
def test_revision_latest_through_team_server(
    branch: str, head: str, path: str, sim: Simulator, workspace: Path
) -> None:
    result = run_local(sim, workspace, revision="latest", branch=branch, download="false")
    assert result.code == 0, result.stderr
    (post,) = sim.requests("api", "POST")
    assert json.loads(post.body)["Revision"] == head
    assert result.result()["revision"] == head
    assert [r.path for r in sim.requests("api", "GET", path="/branches/")] == [path]


def test_revision_latest_through_app_repository_with_pat(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    service.pat = PAT
    project = service.apps["calc"].project_id
    result = run_local(
        sim,
        workspace,
        revision="latest",
        branch="branches/feature",
        pat=PAT,
        project_id=project,
        repository_url=sim.base_url,
    )
    assert result.code == 0, result.stderr
    assert json.loads(sim.requests("api", "POST")[0].body)["Revision"] == "a1b2c3d4e5f6"
    (repo,) = sim.requests("api", path="^/v1/")
    assert repo.path == f"/v1/repositories/{project}/branches/feature"
    assert repo.headers["authorization"] == f"MxToken {PAT}"
    assert "mendix-apikey" not in repo.headers
    assert "mendix-username" not in repo.headers
    for request in sim.requests("api", path="^/api/") + sim.requests("storage"):
        assert "authorization" not in request.headers
    assert PAT not in result.stdout + result.stderr + result.file("result.json")


def test_pat_and_latest_need_a_project_id(sim: Simulator, workspace: Path) -> None:
    result = run_local(sim, workspace, revision="latest", pat=PAT)
    assert result.code == 2
    assert "MENDIX_PROJECT_ID is required with MENDIX_PAT and revision 'latest'" in result.stderr
    assert sim.requests() == []


# -- dry run ------------------------------------------------------------------------------


def test_dry_run_prints_the_request_and_builds_nothing(sim: Simulator, workspace: Path) -> None:
    result = run_local(sim, workspace, dry_run="true")
    assert result.code == 0, result.stderr
    assert f"POST {sim.base_url}/api/1/apps/calc/packages" in result.stdout
    assert "Mendix-ApiKey: ***" in result.stdout
    body = json.loads(result.stdout[result.stdout.index("{") :])
    assert body["Version"] == "1.2.3"
    assert body["Revision"] == "3f2a9c1b7e"
    assert API_KEY not in result.stdout + result.stderr
    assert sim.requests("api", "POST") == []
    assert len(sim.requests("api")) == 1  # one read-only call: it proves the credentials
    assert list(workspace.glob("*.mda")) == []


def test_dry_run_says_which_package_it_would_reuse(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    old = service.seed_package("calc", "1.2.3")
    result = run_local(sim, workspace, "--dry-run")
    assert result.code == 0, result.stderr
    assert f"exists ({old.package_id}, Succeeded); on-existing: reuse would reuse it" in (
        result.stdout
    )
    assert result.result()["reused"] is True


def test_dry_run_with_bad_credentials_exits_3(sim: Simulator, workspace: Path) -> None:
    result = run_local(sim, workspace, dry_run="true", api_key="wrong-key-1234")
    assert result.code == 3


# -- subcommands --------------------------------------------------------------------------


def wait_for(service: BuildService, package_id: str, status: str) -> None:
    deadline = time.monotonic() + 10
    package = next(p for p in service.apps["calc"].packages if p.package_id == package_id)
    while package.status(service.sim_now()) != status and time.monotonic() < deadline:
        time.sleep(0.02)


def test_start_then_wait_then_download(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    started = run_local(sim, workspace, "start")
    assert started.code == 0, started.stderr
    package_id = started.stdout.strip()
    assert started.result()["package-id"] == package_id
    waited = run_local(sim, workspace, "wait", package_id)
    assert waited.code == 0, waited.stderr
    assert waited.result()["status"] == "Succeeded"
    fetched = run_local(sim, workspace, "download", package_id)
    assert fetched.code == 0, fetched.stderr
    assert fetched.result()["artifact-size"] == 200_000
    assert (workspace / "calc-1.2.3.mda").is_file()


def test_download_asks_the_api_once_for_the_package_and_its_location(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    package = service.seed_package("calc", "1.0.0")
    fetched = run_local(sim, workspace, "download", package.package_id)
    assert fetched.code == 0, fetched.stderr
    # each request is recorded before it is answered: the step has exited, all are here
    asked = sim.requests("api", "GET")
    assert [(r.path, r.query) for r in asked] == [
        (f"/api/1/apps/calc/packages/{package.package_id}", {"url": "true"})
    ]
    assert len(sim.requests("storage", "GET")) == 1


def test_subcommands_need_only_the_app_inputs(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    package = service.seed_package("calc", "3.0.0")
    values = inputs(sim)
    del values["revision"], values["version"]
    env = gitlab_env(workspace, values)
    result = run_entrypoint(env, workspace, "show", package.package_id)
    assert result.code == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["PackageId"] == package.package_id
    assert shown["Status"] == "Succeeded"
    variables = ci_formats.gitlab_dotenv((workspace / "mendix-build.env").read_bytes())
    assert variables["MENDIX_PACKAGE_ID"] == package.package_id
    assert variables["MENDIX_VERSION"] == "3.0.0"


@pytest.mark.parametrize(
    ("command", "offered", "absent"),
    [
        ("show", ["--app-id", "--api-key", "--timeout"], ["--environment", "--version"]),
        ("list", ["--filter-status", "--app-id"], ["--allow-production", "--poll-interval"]),
        ("wait", ["--poll-interval", "--timeout"], ["--environment", "--artifact-path"]),
        ("download", ["--artifact-path"], ["--allow-production", "--revision"]),
        ("start", ["--revision", "--version", "--on-existing"], ["--environment"]),
        ("deploy", ["--environment", "--allow-production", "--stop-timeout"], ["--revision"]),
        ("run", ["--revision", "--environment", "--pat"], []),
    ],
)
def test_each_subcommand_offers_only_the_inputs_it_reads(
    workspace: Path, command: str, offered: list[str], absent: list[str]
) -> None:
    result = run_entrypoint(base_env(workspace.parent), workspace, command, "--help")
    assert result.code == 0, result.stderr
    flags = {word for word in result.stdout.split() if word.startswith("--")}
    assert set(offered) <= flags
    assert not set(absent) & flags


def test_wait_on_a_failed_build_exits_1(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    package = service.seed_package("calc", "1.0.0", status="Failed")
    result = run_local(sim, workspace, "wait", package.package_id)
    assert result.code == 1
    assert result.result()["result"] == "failure"


def test_download_of_an_unfinished_package_exits_5(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    package = service.seed_package("calc", "1.0.0", status="Building")
    result = run_local(sim, workspace, "download", package.package_id)
    assert result.code == 5
    assert "is Building; only a Succeeded package can be downloaded" in result.stderr


def test_list_table_json_and_filters(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    ok = service.seed_package("calc", "1.0.0", age_seconds=7200)
    bad = service.seed_package("calc", "1.0.1", status="Failed", age_seconds=3600)
    table = run_local(sim, workspace, "list")
    assert table.code == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["PACKAGE", "ID", "VERSION", "STATUS", "CREATED", "(UTC)", "SIZE"]
    assert [line.split()[0] for line in lines[1:]] == [bad.package_id, ok.package_id]
    as_json = run_local(sim, workspace, "list", "--json", "--filter-status", "Succeeded")
    assert [p["PackageId"] for p in json.loads(as_json.stdout)] == [ok.package_id]
    by_version = run_local(sim, workspace, "list", "--json", "--filter-version", "1.0.1")
    assert [p["PackageId"] for p in json.loads(by_version.stdout)] == [bad.package_id]


def test_list_shows_sizes_as_people_read_them_and_exact_bytes_in_json(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    service.apps["calc"].package_size = 2_000_000
    big = service.seed_package("calc", "1.0.0")
    table = run_local(sim, workspace, "list")
    assert table.code == 0, table.stderr
    (row,) = [line for line in table.stdout.splitlines() if line.startswith(big.package_id)]
    assert row.endswith("  1.9 MiB")
    as_json = run_local(sim, workspace, "list", "--json")
    assert [p["Size"] for p in json.loads(as_json.stdout)] == [2_000_000]


def test_delete_and_package_in_use(sim: Simulator, service: BuildService, workspace: Path) -> None:
    free = service.seed_package("calc", "1.0.0")
    deployed = service.seed_package("calc", "1.0.1", in_use=True)
    assert run_local(sim, workspace, "delete", free.package_id).code == 0
    refused = run_local(sim, workspace, "delete", deployed.package_id)
    assert refused.code == 5
    assert "PACKAGE_IN_USE" in refused.stderr
    assert "deployed on an environment" in refused.stderr
    assert [p.package_id for p in service.apps["calc"].packages] == [deployed.package_id]


def test_prune_keeps_the_newest_and_never_touches_running_builds(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    oldest = service.seed_package("calc", "1.0.0", age_seconds=5000)
    in_use = service.seed_package("calc", "1.0.1", age_seconds=4000, in_use=True)
    older = service.seed_package("calc", "1.0.2", age_seconds=3000)
    newest = service.seed_package("calc", "1.0.3", age_seconds=1000)
    running = service.seed_package("calc", "1.0.4", status="Building", age_seconds=10)
    failed = service.seed_package("calc", "0.9.0", status="Failed", age_seconds=9000)
    preview = run_local(sim, workspace, "prune", "--keep", "1", "--dry-run")
    assert preview.code == 0, preview.stderr
    assert preview.stdout.count("would delete") == 3
    assert sim.requests("api", "DELETE") == []
    pruned = run_local(sim, workspace, "prune", "--keep", "1")
    assert pruned.code == 0, pruned.stderr
    left = {p.package_id for p in service.apps["calc"].packages}
    assert left == {newest.package_id, running.package_id, failed.package_id, in_use.package_id}
    assert oldest.package_id not in left
    assert older.package_id not in left
    assert "Kept: the package is in use" in pruned.stderr
