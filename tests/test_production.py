"""Production deploys: snapshot, settings as code, the app log on a failed start, rollback,
promotion and re-runs — each path through the entrypoint against the simulator."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from ci_step.simulator import BuildService, Fault, Simulator
from ci_step.simulator.backup_jobs import BackupTimes
from ci_step.simulator.environments import SimEnvironment
from ci_step.simulator.packages import constants_of
from tests.conftest import (
    API_KEY,
    Run,
    StepProcess,
    base_env,
    github_env,
    inputs,
    mendix_env,
    run_entrypoint,
    run_local,
)

SECRET = "erp-Pa55word-never-shown"
PRODUCTION = {"environment": "Production", "allow_production": "true", "download": "false"}


@pytest.fixture
def production(service: BuildService) -> SimEnvironment:
    """Production running package 1.0.0, with short jobs."""
    service.backup_times = BackupTimes(queued=0.1, snapshot=0.3, restore=0.3)
    service.seed_package("calc", "1.0.0", deployed_to="Production")
    environment = service.apps["calc"].environments["Production"]
    environment.start_seconds = 0.3
    return environment


def calls(sim: Simulator, method: str, pattern: str) -> int:
    return len(sim.requests("api", method, pattern))


def run_production(sim: Simulator, workspace: Path, **values: str) -> Run:
    return run_local(sim, workspace, **(PRODUCTION | values))


def version_of(service: BuildService, package_id: str) -> str:
    """The version the Deploy API gives a package: major.minor.patch.revision."""
    package = next(p for p in service.apps["calc"].packages if p.package_id == package_id)
    return f"{package.version}.{package.revision}"


def start_under_way(environment: SimEnvironment) -> str:
    """The JobId of the one start of ``environment`` that has not ended."""
    (job,) = [job for job in environment.jobs.values() if not job.settled]
    return job.job_id


def write_settings(workspace: Path, text: str) -> str:
    (workspace / "settings.yml").write_text(text, encoding="utf-8")
    return "settings.yml"


# -- snapshot ------------------------------------------------------------------------------


def test_production_deploy_takes_a_snapshot_before_the_stop(
    sim: Simulator, production: SimEnvironment, workspace: Path
) -> None:
    old = production.package_id
    run = run_production(sim, workspace)
    assert run.code == 0, run.stderr
    document = run.result()
    (snapshot,) = production.snapshots
    assert document["backup-id"] == snapshot.job_id
    assert document["rolled-back"] is False
    assert "1.2.3" in snapshot.comment
    assert "mendix-build" in snapshot.comment
    order = [r.path.rsplit("/", 1)[-1] for r in sim.requests("api", "POST")]
    assert order.index("snapshots") < order.index("stop") < order.index("transport")
    assert production.package_id != old


def test_backup_false_takes_none_and_a_test_environment_none_by_default(
    sim: Simulator, production: SimEnvironment, workspace: Path
) -> None:
    assert run_production(sim, workspace, backup="false").code == 0
    assert production.snapshots == []
    run = run_local(sim, workspace, environment="Acceptance", download="false")
    assert run.code == 0, run.stderr
    assert run.result()["backup-id"] == ""
    assert calls(sim, "GET", r"/api/v2/") == 0


def test_backup_true_snapshots_any_environment(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    service.backup_times = BackupTimes(queued=0.1, snapshot=0.3, restore=0.3)
    acceptance = service.apps["calc"].environments["Acceptance"]
    acceptance.start_seconds = 0.3
    run = run_local(sim, workspace, environment="Acceptance", download="false", backup="true")
    assert run.code == 0, run.stderr
    assert len(acceptance.snapshots) == 1


def test_failing_snapshot_leaves_the_environment_untouched(
    sim: Simulator, production: SimEnvironment, workspace: Path
) -> None:
    old = production.package_id
    production.snapshot_fails = True
    run = run_production(sim, workspace)
    assert run.code == 7, run.stderr
    assert "Nothing else was changed" in run.stderr
    assert calls(sim, "POST", r"/stop$") == 0
    assert calls(sim, "POST", r"/transport$") == 0
    assert production.status == "Running"
    assert production.package_id == old
    assert run.result()["deploy-result"] == "failure"


def test_no_access_to_backups_ends_before_any_build(
    sim: Simulator, service: BuildService, production: SimEnvironment, workspace: Path
) -> None:
    service.apps["calc"].backup_access = False
    run = run_production(sim, workspace)
    assert run.code == 3, run.stderr
    assert "Access to Backups" in run.stderr
    assert calls(sim, "POST", r"/packages$") == 0  # nothing was built
    assert calls(sim, "POST", r"/environments/") == 0


# -- settings ------------------------------------------------------------------------------


def test_settings_file_changes_constants_and_events_and_never_shows_a_secret(
    sim: Simulator, service: BuildService, production: SimEnvironment, workspace: Path
) -> None:
    service.apps["calc"].constants.update(constants_of({"Integration.Password": None}))
    path = write_settings(
        workspace,
        "constants:\n"
        "  MyFirstModule.PageSize: '50'\n"
        "  Integration.Password: ${ERP_PASSWORD}\n"
        "scheduled-events:\n"
        "  MyFirstModule.NightlyCleanup: enabled\n",
    )
    values = inputs(
        sim,
        result_file="result.json",
        settings_file=path,
        settings_variables="ERP_PASSWORD",
        **PRODUCTION,
    )
    env = github_env(workspace, values) | {"ERP_PASSWORD": SECRET}
    run = run_entrypoint(env, workspace)
    assert run.code == 0, run.stderr
    assert production.constants["Integration.Password"].value == SECRET
    assert production.constants["MyFirstModule.PageSize"].value == "50"
    assert production.scheduled_events["MyFirstModule.NightlyCleanup"].value == "Enabled"
    assert json.loads(run.file("result.json"))["settings-changed"] == 3
    assert "MyFirstModule.PageSize: set to 50" in run.stderr
    assert "Integration.Password: set from ${ERP_PASSWORD}" in run.stderr
    summary = (workspace.parent / "file_commands" / "step_summary").read_text("utf-8")
    assert "MyFirstModule.PageSize: set to 50" in summary
    masks = [line for line in run.stderr.splitlines() if line.startswith("::add-mask::")]
    assert f"::add-mask::{SECRET}" in masks
    shown = run.stdout + "\n".join(
        line for line in run.stderr.splitlines() if not line.startswith("::add-mask::")
    )
    everywhere = shown + "".join(
        p.read_text("utf-8", errors="replace") for p in workspace.parent.rglob("*") if p.is_file()
    )
    assert SECRET not in everywhere
    assert API_KEY not in everywhere.replace(f"::add-mask::{API_KEY}", "")
    posts = sim.requests("api", "POST")
    order = [r.path.rsplit("/", 1)[-1] for r in posts]
    assert order.index("transport") < order.index("settings") < order.index("start")


def test_a_constant_the_new_model_lacks_stops_before_the_start(
    sim: Simulator, production: SimEnvironment, workspace: Path
) -> None:
    path = write_settings(workspace, "constants:\n  Gone.Constant: x\n")
    run = run_production(sim, workspace, settings_file=path)
    assert run.code == 7, run.stderr
    assert "constant Gone.Constant" in run.stderr
    assert calls(sim, "POST", r"/start$") == 0
    assert "stopped, holding the new package" in run.stderr


def test_a_new_constant_without_a_value_is_set_by_the_file_so_the_start_succeeds(
    sim: Simulator, service: BuildService, production: SimEnvironment, workspace: Path
) -> None:
    service.apps["calc"].constants.update(constants_of({"Integration.Token": None}))
    assert run_production(sim, workspace, backup="false").code == 7  # MISSING_CONSTANT
    path = write_settings(workspace, "constants:\n  Integration.Token: t0k3n-value\n")
    run = run_production(sim, workspace, backup="false", settings_file=path, version="1.2.4")
    assert run.code == 0, run.stderr


def test_dry_run_lists_the_settings_changes_and_changes_nothing(
    sim: Simulator, production: SimEnvironment, workspace: Path
) -> None:
    path = write_settings(workspace, "constants:\n  MyFirstModule.PageSize: '75'\n")
    run = run_production(sim, workspace, settings_file=path, dry_run="true")
    assert run.code == 0, run.stderr
    assert "would change constant MyFirstModule.PageSize: set to 75" in run.stdout
    assert production.constants["MyFirstModule.PageSize"].value == "20"
    assert calls(sim, "POST", r".") == 0


# -- a failed start: the log, rollback, the state left behind ------------------------------


def test_rollback_after_db_sync_failed_runs_the_old_package_on_the_restored_database(
    sim: Simulator, production: SimEnvironment, workspace: Path
) -> None:
    old, database = production.package_id, production.database
    production.start_error, production.start_error_times = "DB_SYNC_FAILED", 1  # the new model
    run = run_production(sim, workspace, rollback="true")
    assert run.code == 7, run.stderr
    document = run.result()
    assert document["rolled-back"] is True, run.stderr
    assert document["deploy-result"] == "failure"
    assert production.package_id == old
    assert production.database == database  # the snapshot's, not the part-way migration
    assert len(production.restores) == 1
    error = document["error"]
    assert isinstance(error, dict)
    assert error["error-code"] == "DB_SYNC_FAILED"
    assert "Rolled back" in error["message"]
    assert f"running the package that ran before ({old})" in error["message"]
    assert any("DB_SYNC_FAILED" in line for line in error["log-tail"])
    assert "| " in run.stderr  # the log's last lines in the console
    assert "is down" not in error["fix"]  # it runs again: the fix is about the new model


def test_failed_start_without_rollback_says_it_is_stopped_with_the_new_package(
    sim: Simulator, production: SimEnvironment, workspace: Path
) -> None:
    old = production.package_id
    production.start_error = "STARTUP_ACTION_FAILED"
    run = run_local(sim, workspace, environment="Production", allow_production="true")
    assert run.code == 7, run.stderr
    error = run.result()["error"]
    assert isinstance(error, dict)
    assert "stopped, holding the new package" in error["message"]
    assert run.result()["rolled-back"] is False
    # the app that ran is down: putting it back comes first, then the cause's own fix
    assert error["fix"].startswith(
        "Production is down: deploy the package that ran before to it again "
        f"(`MENDIX_PACKAGE_ID={old}`); then "
    )
    assert "STARTUP_ACTION_FAILED" not in error["fix"]


def test_rollback_of_a_first_deploy_has_nothing_to_go_back_to(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    test = service.apps["calc"].environments["Test"]
    test.status, test.database, test.start_seconds = "Empty", "", 0.3
    test.start_error = "START_FAILED"
    run = run_local(sim, workspace, environment="Test", download="false", rollback="true")
    assert run.code == 7, run.stderr
    assert "nothing to roll back to" in run.stderr
    assert run.result()["rolled-back"] is False


def test_a_rollback_that_fails_too_reports_both(
    sim: Simulator, service: BuildService, production: SimEnvironment, workspace: Path
) -> None:
    old = production.package_id
    production.start_error, production.start_error_times = "DB_SYNC_FAILED", 1
    production.restore_fails = True
    run = run_production(sim, workspace, rollback="true")
    assert run.code == 7, run.stderr
    message = run.result()["error"]["message"]  # type: ignore[index]
    assert "DB_SYNC_FAILED" in message
    # each package is named with its version beside its id
    new = run.result()["package-id"]
    assert message.startswith(f"Deploying package {new} (version 1.2.3) to Production failed: ")
    assert f"The rollback to package {old} (version {version_of(service, old)}) failed too" in (
        message
    )
    assert "Now environment Production is stopped, holding the new package" in message
    assert run.result()["rolled-back"] is False
    fix = run.result()["error"]["fix"]  # type: ignore[index]
    assert fix.startswith("Production is down: deploy the package that ran before to it again")


def test_when_both_starts_fail_the_cause_is_said_once_and_the_fix_covers_both(
    sim: Simulator, service: BuildService, production: SimEnvironment, workspace: Path
) -> None:
    old = production.package_id
    production.start_error, production.start_error_times = "DB_SYNC_FAILED", 2  # both starts
    run = run_production(sim, workspace, rollback="true")
    assert run.code == 7, run.stderr
    error = run.result()["error"]
    assert isinstance(error, dict)
    message, fix = error["message"], error["fix"]
    assert message.count("Synchronization of database failed") == 1, message
    assert (
        f"The rollback put back package {old} (version {version_of(service, old)}) with the "
        "database from snapshot "
    ) in message
    assert "but its start failed the same way." in message
    assert (
        f"Now environment Production is stopped, holding the package that ran before ({old})"
        in message
    )
    # starting the old package again would fail the same way: the fix answers both starts
    assert fix.startswith(
        "Production is down: the rollback's start failed too; for both starts: the database "
        "could not be brought in line with the new model"
    )
    assert fix.count("the database could not be brought") == 1
    assert "start it from the Mendix Portal" not in fix
    assert f"Fix: {fix}" in run.stderr


def test_when_the_rollbacks_start_fails_otherwise_the_fix_answers_each_cause(
    sim: Simulator, production: SimEnvironment, workspace: Path
) -> None:
    production.hung_starts = 1  # the new package's start outlives start-timeout
    production.start_error, production.start_error_times = "START_FAILED", 2  # then this
    run = run_production(sim, workspace, rollback="true", start_timeout="1s", backup="false")
    assert run.code == 4, run.stderr
    error = run.result()["error"]
    assert isinstance(error, dict)
    assert "did not start within 1s" in error["message"]
    assert "but its start failed too: " in error["message"]
    assert "START_FAILED" in error["message"]
    assert error["fix"] == (
        "Production is down: the rollback's start failed too: read the environment log in the "
        "Mendix Portal: the runtime did not start; then, for the first start: raise "
        "`MENDIX_START_TIMEOUT` or `MENDIX_TIMEOUT`; look at the environment in the Mendix Portal"
    )


def test_the_rollbacks_start_is_bound_by_what_is_left_of_timeout_not_start_timeout(
    sim: Simulator, production: SimEnvironment, workspace: Path
) -> None:
    old = production.package_id
    production.hung_starts = 1  # the new package's start outlives start-timeout
    production.start_seconds = 3  # the old one's takes longer than start-timeout too
    run = run_production(sim, workspace, rollback="true", start_timeout="1s", backup="false")
    assert run.code == 4, run.stderr  # the new package's start-timeout
    assert run.result()["rolled-back"] is True, run.stderr
    assert (production.package_id, production.status) == (old, "Running")
    message = run.result()["error"]["message"]  # type: ignore[index]
    assert f"Now environment Production is running the package that ran before ({old})" in (message)


def test_a_rollback_whose_start_outlives_the_timeout_is_reported_as_starting(
    sim: Simulator, production: SimEnvironment, workspace: Path
) -> None:
    """The environment reads Stopped while its start goes on: the step's last word says a
    start is under way, its job and how to watch it, and the fix never asks for a start."""
    old = production.package_id
    production.hung_starts = 1  # the new package's start outlives start-timeout
    production.start_seconds = 600  # the old one's outlives the step's timeout
    values = inputs(
        sim,
        result_file="result.json",
        rollback="true",
        start_timeout="1s",
        timeout="8s",
        backup="false",
        **PRODUCTION,
    )
    run = run_entrypoint(github_env(workspace, values), workspace)
    assert run.code == 4, run.stderr
    job = start_under_way(production)
    error = run.result()["error"]
    assert isinstance(error, dict)
    message, fix = error["message"], error["fix"]
    assert "asked for its start, which had not ended when `with: timeout:` ran out" in message
    assert message.endswith(
        f"Now environment Production is starting the package that ran before ({old}), as far "
        f"as the step knows: its start job {job} still reported Starting at the last check "
        "(watch it on the environment's page in the Mendix Portal, or with GET "
        f"{sim.base_url}/api/1/apps/calc/environments/Production/start/{job})."
    )
    assert "stopped" not in message
    assert fix.startswith(f"Production is still starting (start job {job}): watch that start ")
    assert "start it" not in fix
    assert run.result()["rolled-back"] is False
    summary = (workspace.parent / "file_commands" / "step_summary").read_text("utf-8")
    assert "is starting the package that ran before" in summary
    assert production.status == "Stopped"  # as the API says while the start goes on
    assert calls(sim, "POST", r"/start$") == 2


def test_a_start_that_outlives_start_timeout_is_reported_as_under_way(
    sim: Simulator, production: SimEnvironment, workspace: Path
) -> None:
    production.start_seconds = 600
    run = run_production(sim, workspace, start_timeout="1s", backup="false")
    assert run.code == 4, run.stderr
    new, job = run.result()["package-id"], start_under_way(production)
    error = run.result()["error"]
    assert isinstance(error, dict)
    assert (
        f"Now environment Production is starting the new package {new}: its start job {job} "
        "is under way (watch it on the environment's page in the Mendix Portal"
    ) in error["message"]
    assert error["fix"].startswith(f"Production is still starting (start job {job}): ")
    assert "deploy the package that ran before" not in error["fix"]


def test_start_timeout_with_rollback_exits_4_and_rolls_back(
    sim: Simulator, production: SimEnvironment, workspace: Path
) -> None:
    old = production.package_id
    production.hung_starts = 1  # the new package's start never ends; the old one starts
    run = run_production(sim, workspace, rollback="true", start_timeout="3s", backup="false")
    assert run.code == 4, run.stderr
    assert run.result()["rolled-back"] is True, run.stderr
    assert production.package_id == old


def test_the_log_tail_of_a_large_log_reads_a_bounded_number_of_bytes(
    sim: Simulator, production: SimEnvironment, workspace: Path
) -> None:
    production.log_lines = 300_000  # tens of megabytes
    production.start_error = "START_FAILED"
    run = run_production(sim, workspace, backup="false")
    assert run.code == 7, run.stderr
    (log_request,) = sim.requests("storage", "GET", r"/logs/")
    assert log_request.headers["range"].startswith("bytes=-")
    tail = run.result()["error"]["log-tail"]  # type: ignore[index]
    assert 0 < len(tail) <= 50


def test_the_log_tail_when_the_host_ignores_ranges(
    sim: Simulator, production: SimEnvironment, workspace: Path
) -> None:
    production.start_error = "START_FAILED"
    sim.add_fault(Fault("ignore-range", listener="storage", path=r"/logs/", times=-1))
    run = run_production(sim, workspace, backup="false")
    assert run.code == 7, run.stderr
    tail = run.result()["error"]["log-tail"]  # type: ignore[index]
    assert any("START_FAILED" in line for line in tail)


def test_lost_start_answer_then_failed_start_ends_as_that_failure(
    sim: Simulator, production: SimEnvironment, workspace: Path
) -> None:
    production.start_error = "DB_SYNC_FAILED"
    sim.add_fault(Fault("reset", method="POST", path=r"/start$", process=True))
    run = run_production(sim, workspace, backup="false", start_timeout="15m")
    assert run.code == 7, run.stderr
    assert run.result()["error"]["error-code"] == "DB_SYNC_FAILED"  # type: ignore[index]
    assert "already under way" in run.stderr  # the second request met the first start
    assert len(production.jobs) == 2  # the lost one, then one once it had ended


# -- promotion and re-runs -----------------------------------------------------------------


def test_promotion_deploys_exactly_the_package_acceptance_runs(
    sim: Simulator, service: BuildService, production: SimEnvironment, workspace: Path
) -> None:
    accepted = service.seed_package("calc", "1.1.0", deployed_to="Acceptance")
    values = {"promote_from": "Acceptance", "revision": "", "version": ""}
    run = run_production(sim, workspace, **values)
    assert run.code == 0, run.stderr
    assert production.package_id == accepted.package_id
    assert sim.requests("api", path=r"/packages") == []  # the Build API was not called
    assert run.result()["package-id"] == accepted.package_id


def test_promotion_dry_run_names_the_package_and_changes_nothing(
    sim: Simulator, service: BuildService, production: SimEnvironment, workspace: Path
) -> None:
    before = production.package_id
    accepted = service.seed_package("calc", "1.1.0", deployed_to="Acceptance")
    values = {"promote_from": "Acceptance", "revision": "", "version": "", "dry_run": "true"}
    run = run_production(sim, workspace, **values)
    assert run.code == 0, run.stderr
    assert run.stdout.startswith("Dry run: nothing was changed.\n")
    assert f"Package {accepted.package_id} (version 1.1.0." in run.stdout
    assert "which Acceptance runs, would be deployed to Production" in run.stdout
    assert production.package_id == before
    assert sim.requests("api", "POST") == []


def test_promotion_from_an_empty_environment_exits_5(
    sim: Simulator, service: BuildService, production: SimEnvironment, workspace: Path
) -> None:
    service.apps["calc"].environments["Test"].status = "Empty"
    run = run_production(sim, workspace, promote_from="Test", revision="", version="")
    assert run.code == 5, run.stderr
    assert "holds no package" in run.stderr
    assert calls(sim, "POST", r".") == 0


def test_rerun_changes_nothing_without_new_settings(
    sim: Simulator, production: SimEnvironment, workspace: Path
) -> None:
    path = write_settings(workspace, "constants:\n  MyFirstModule.PageSize: '30'\n")
    assert run_production(sim, workspace, settings_file=path).code == 0
    before = len(sim.requests("api", "POST"))
    run = run_production(sim, workspace, settings_file=path)
    assert run.code == 0, run.stderr
    assert len(sim.requests("api", "POST")) == before  # no snapshot, write, stop or start
    assert run.result()["settings-changed"] == 0
    assert len(production.snapshots) == 1


def test_rerun_with_a_changed_setting_writes_it_and_restarts(
    sim: Simulator, production: SimEnvironment, workspace: Path
) -> None:
    assert run_production(sim, workspace).code == 0
    path = write_settings(workspace, "constants:\n  MyFirstModule.PageSize: '99'\n")
    run = run_production(sim, workspace, settings_file=path)
    assert run.code == 0, run.stderr
    assert run.result()["settings-changed"] == 1
    assert production.constants["MyFirstModule.PageSize"].deployed == "99"
    assert len(production.snapshots) == 1  # no second snapshot for a settings change
    assert calls(sim, "POST", r"/transport$") == 1


# -- signals -------------------------------------------------------------------------------


def test_signal_during_the_snapshot_says_it_goes_on_at_mendix(
    sim: Simulator, service: BuildService, production: SimEnvironment, workspace: Path
) -> None:
    service.backup_times = BackupTimes(queued=60, snapshot=60, restore=60)
    values = inputs(sim, result_file="result.json", **PRODUCTION)
    step = StepProcess(base_env(workspace.parent) | mendix_env(values), workspace)
    step.wait_for("Snapshot of Production started")
    step.process.send_signal(signal.SIGTERM)
    run = step.finish()
    assert run.code == 143, run.stderr
    assert "the snapshot of Production keeps running on the Mendix side" in run.stderr
    assert run.result()["result"] == "cancelled"
    assert calls(sim, "POST", r"/stop$") == 0


def test_rerun_whose_new_settings_keep_it_from_starting_puts_them_back(
    sim: Simulator, production: SimEnvironment, workspace: Path
) -> None:
    assert run_production(sim, workspace, backup="false").code == 0
    production.start_error, production.start_error_times = "STARTUP_ACTION_FAILED", 1
    path = write_settings(workspace, "constants:\n  MyFirstModule.PageSize: '99'\n")
    run = run_production(sim, workspace, backup="false", settings_file=path, rollback="true")
    assert run.code == 7, run.stderr
    assert run.result()["rolled-back"] is True
    assert "settings of Production are as they were" in run.stderr
    assert production.constants["MyFirstModule.PageSize"].value == "20"
    assert production.status == "Running"


def test_settings_put_back_on_a_stopped_environment_leave_it_stopped(
    sim: Simulator, production: SimEnvironment, workspace: Path
) -> None:
    assert run_production(sim, workspace, backup="false").code == 0
    production.status = "Stopped"  # holds this package, not running
    starts = calls(sim, "POST", r"/start$")
    production.start_error, production.start_error_times = "STARTUP_ACTION_FAILED", 1
    path = write_settings(workspace, "constants:\n  MyFirstModule.PageSize: '99'\n")
    run = run_production(sim, workspace, backup="false", settings_file=path, rollback="true")
    assert run.code == 7, run.stderr
    assert run.result()["rolled-back"] is True
    assert "settings of Production are as they were (stopped, as before)" in run.stderr
    assert production.constants["MyFirstModule.PageSize"].value == "20"
    assert production.status == "Stopped"
    assert calls(sim, "POST", r"/start$") == starts + 1  # the failed one only


def test_a_log_that_ends_early_still_lets_the_rollback_run(
    sim: Simulator, production: SimEnvironment, workspace: Path
) -> None:
    production.start_error, production.start_error_times = "DB_SYNC_FAILED", 1
    sim.add_fault(Fault("truncate", listener="storage", path=r"/logs/", after_bytes=100))
    run = run_production(sim, workspace, rollback="true", backup="false")
    assert run.code == 7, run.stderr
    assert run.result()["rolled-back"] is True, run.stderr


def test_a_log_that_trickles_is_cut_by_the_deadline_without_a_download_first(
    sim: Simulator, production: SimEnvironment, workspace: Path
) -> None:
    """No download ran before (download: false), so the log's read is the storage
    session's first exchange: it too ends by the step's deadline, not at the log's end."""
    production.start_error = "DB_SYNC_FAILED"
    sim.add_fault(Fault("trickle", listener="storage", path=r"/logs/", times=-1))
    run = run_production(sim, workspace, backup="false", timeout="6s")  # 14 KB at 5 B/s
    assert run.code == 7, run.stderr  # the start's failure, reported once the read is cut
    assert "log could not be read  reason=The timeout of 6s passed" in run.stderr
    assert any(r.fault == "trickle" for r in sim.requests("storage"))


@pytest.mark.parametrize("url", ["https://[x/log", "file:///etc/passwd", ""])
def test_a_log_url_that_cannot_be_followed_still_lets_the_rollback_run(
    url: str, sim: Simulator, production: SimEnvironment, workspace: Path
) -> None:
    production.start_error, production.start_error_times = "DB_SYNC_FAILED", 1
    sim.add_fault(
        Fault("rewrite", path=r"/logs/", field_name="DownloadUrl", field_value=url, times=-1)
    )
    run = run_production(sim, workspace, rollback="true", backup="false")
    assert run.code == 7, run.stderr
    assert "The environment's log could not be read" in run.stderr
    assert run.result()["rolled-back"] is True, run.stderr
    assert sim.requests("storage") == []


def test_promotion_needs_the_source_environment_running(
    sim: Simulator, service: BuildService, production: SimEnvironment, workspace: Path
) -> None:
    service.seed_package("calc", "1.1.0", deployed_to="Acceptance")
    service.apps["calc"].environments["Acceptance"].status = "Stopped"
    run = run_production(sim, workspace, promote_from="Acceptance", revision="", version="")
    assert run.code == 5, run.stderr
    assert "only a package that runs there is promoted" in run.stderr
    assert calls(sim, "POST", r".") == 0


def test_a_log_past_the_read_budget_says_its_lines_are_not_the_end(
    sim: Simulator, production: SimEnvironment, workspace: Path
) -> None:
    production.log_lines = 600_000  # more than the 32 MiB streamed when ranges are ignored
    production.start_error = "START_FAILED"
    sim.add_fault(Fault("ignore-range", listener="storage", path=r"/logs/", times=-1))
    run = run_production(sim, workspace, backup="false")
    assert run.code == 7, run.stderr
    assert "these lines are not its end" in run.stderr
    assert run.result()["error"]["log-tail"]  # type: ignore[index]
