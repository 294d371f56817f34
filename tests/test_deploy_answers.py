"""Answers of the Deploy API v1 additions and the Backups API v2, parsed in-process; the
error mapping of both; the calls the existing simulator already serves, over HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ci_step.domain.app_settings import Value, parse_settings, plan
from ci_step.domain.backups import parse_restore, parse_snapshot, parse_snapshot_page
from ci_step.errors import ApiError, AuthError, read_error_body
from ci_step.mendix.backups_api import BackupsApi
from ci_step.mendix.deploy_api import DeployApi
from ci_step.simulator import BuildService, Fault, Simulator
from tests.conftest import run_local
from tests.rig import Rig

SNAPSHOT = {
    "snapshot_id": "2c5a1f3e-7b0d-4b8e-9a61-0f1e2d3c4b5a",
    "state": "running",
    "status_message": "",
    "model_version": "1.2.3.45",
    "comment": "before 1.2.3 (GitLab pipeline 77)",
    "created_at": "2025-03-01T10:00:00Z",
    "updated_at": "2025-03-01T10:00:05Z",
    "finished_at": None,
    "expires_at": "2025-06-01T10:00:00Z",
}


def test_snapshot_answer() -> None:
    snapshot = parse_snapshot(SNAPSHOT)
    assert snapshot.job_id == SNAPSHOT["snapshot_id"]
    assert (snapshot.state, snapshot.done) == ("running", False)
    assert parse_snapshot(SNAPSHOT | {"state": "Completed"}).done
    # a create answer may name the id "id" (undocumented): tolerated
    other = {k: v for k, v in SNAPSHOT.items() if k != "snapshot_id"} | {"id": 42}
    assert parse_snapshot(other).job_id == "42"


def test_restore_answer() -> None:
    restore = parse_restore(
        {
            "restore_id": "r-1",
            "state": "failed",
            "status_message": "Environment is not stopped",
            "source_snapshot_id": "s-1",
            "target_environment_id": "e-1",
        }
    )
    assert (restore.job_id, restore.state, restore.done) == ("r-1", "failed", True)
    assert restore.status_message == "Environment is not stopped"


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ([], "not a snapshot"),
        ({"state": "queued"}, "without a valid snapshot_id"),
        ({"snapshot_id": "../x", "state": "queued"}, "without a valid snapshot_id"),
        ({"snapshot_id": "s", "state": "paused"}, "unknown state 'paused'"),
        ({"snapshot_id": "s", "state": "\x1b[31mx"}, "unknown state: expected queued"),
        ({"snapshot_id": "s"}, "unknown state"),
    ],
)
def test_bad_snapshot_answers(answer: object, message: str) -> None:
    with pytest.raises(ApiError, match=message.replace("[", r"\[")):
        parse_snapshot(answer)


def test_snapshot_list_answer() -> None:
    page = parse_snapshot_page({"limit": 1, "offset": 0, "total": 7, "snapshots": [SNAPSHOT]})
    assert [s.job_id for s in page] == [SNAPSHOT["snapshot_id"]]
    assert parse_snapshot_page({"snapshots": []}) == ()
    with pytest.raises(ApiError, match="snapshot list"):
        parse_snapshot_page({"total": 0})


SETTINGS: dict[str, Any] = {
    "Constants": [
        {
            "Name": "MyModule.ApiUrl",
            "DataType": "String",
            "Value": "https://old.example",
            "DeployedValue": "https://old.example",
        },
        {"Name": "MyModule.Retries", "DataType": "Integer", "Value": "3", "DeployedValue": "3"},
        {"Name": "MyModule.ApiKey", "DataType": "String", "Value": "old-key", "Extra": 1},
    ],
    "CustomSettings": [{"Name": "Kept.AsIs", "Value": "x"}],
    "ScheduledEvents": [
        {"Name": "MyModule.Cleanup", "Value": "Disabled", "DeployedValue": "Disabled"},
        {"Name": "MyModule.Sync", "Value": "Enabled", "DeployedValue": "Enabled"},
    ],
}


def test_settings_answer() -> None:
    settings = parse_settings(SETTINGS, "Acceptance")
    assert [s.name for s in settings.constants] == [
        "MyModule.ApiUrl",
        "MyModule.Retries",
        "MyModule.ApiKey",
    ]
    retries = settings.constant("MyModule.Retries")
    assert retries is not None
    assert (retries.value, retries.deployed_value, retries.data_type) == ("3", "3", "Integer")
    cleanup = settings.event("MyModule.Cleanup")
    assert cleanup is not None
    assert cleanup.value == "Disabled"
    assert settings.constant("MyModule.Nope") is None
    assert parse_settings({}, "Test").constants == ()


@pytest.mark.parametrize(
    "answer",
    [[], {"Constants": {}}, {"Constants": [{"Value": "x"}]}, {"ScheduledEvents": ["x"]}],
)
def test_bad_settings_answers(answer: object) -> None:
    with pytest.raises(ApiError, match="Acceptance"):
        parse_settings(answer, "Acceptance")


def test_settings_changes_and_the_whole_collection_written_back() -> None:
    current = parse_settings(SETTINGS, "Acceptance")
    changes = plan(
        current,
        {
            "MyModule.ApiUrl": Value("https://new.example"),
            "MyModule.Retries": Value("3"),  # unchanged
            "MyModule.ApiKey": Value("new-key", "API_KEY"),
            "NewModule.Missing": Value("x"),
        },
        {"MyModule.Cleanup": "Enabled", "MyModule.Sync": "Enabled", "MyModule.Gone": "Enabled"},
    )
    assert [c.describe() for c in changes.changes] == [
        "constant MyModule.ApiUrl: set to https://new.example",  # never the old value
        "constant MyModule.ApiKey: set from ${API_KEY}",
        "scheduled event MyModule.Cleanup: Disabled → Enabled",
    ]
    assert changes.missing == ("constant NewModule.Missing", "scheduled event MyModule.Gone")
    body = changes.body(current)
    assert [c["Value"] for c in body["Constants"]] == ["https://new.example", "3", "new-key"]
    assert body["Constants"][2]["Extra"] == 1  # what the API sent comes back as it was
    assert body["CustomSettings"] == SETTINGS["CustomSettings"]
    assert [e["Value"] for e in body["ScheduledEvents"]] == ["Enabled", "Enabled"]
    assert SETTINGS["Constants"][0]["Value"] == "https://old.example"  # the answer untouched


def test_event_states_compare_without_case() -> None:
    current = parse_settings(
        {"ScheduledEvents": [{"Name": "M.E", "Value": "enabled"}]}, "Acceptance"
    )
    assert plan(current, {}, {"M.E": "Enabled"}).changes == ()


# -- errors: the status picks the class, the body (either spelling) the text ----------


@pytest.mark.parametrize(
    "body",
    [
        {"errorCode": "NO_ACCESS", "errorMessage": "No access"},
        {"code": "NO_ACCESS", "message": "No access"},
        {"error_code": "NO_ACCESS", "error_message": "No access"},
        {"error": {"code": "NO_ACCESS", "message": "No access"}},
    ],
)
def test_error_bodies_in_either_spelling(body: dict[str, object]) -> None:
    assert read_error_body(body) == ("NO_ACCESS", "No access")


def test_backups_no_access_names_the_permission(rig: Rig) -> None:
    backups = BackupsApi(rig.services(rig.config()).api)
    app = rig.service.apps["calc"]
    environment_id = app.environments["Acceptance"].environment_id
    app.backup_access = False
    with pytest.raises(AuthError) as denied:
        backups.list_snapshots(app.project_id, environment_id)
    error = denied.value
    assert error.exit_code == 3
    assert error.error_code == "NO_ACCESS"
    assert "Access to Backups" in error.fix
    app.backup_access = True
    rig.sim.add_fault(Fault("status", method="POST", path=r"/snapshots$", status=403, body="{}"))
    with pytest.raises(AuthError) as other:
        backups.create_snapshot(app.project_id, environment_id, "first")
    assert "Access to Backups" in other.value.fix
    # the rig's clock stands still: this snapshot stays queued, the environment busy
    backups.create_snapshot(app.project_id, environment_id, "runs")
    with pytest.raises(ApiError) as refused:
        backups.create_snapshot(app.project_id, environment_id, "second")
    busy = refused.value
    assert (type(busy), busy.error_code, busy.exit_code) == (ApiError, "ENVIRONMENT_BUSY", 5)


# -- over HTTP, what the simulator serves already --------------------------------------


def test_environment_id_production_and_no_package(rig: Rig) -> None:
    config = rig.config()
    api = DeployApi(rig.services(config).api)
    environment = api.get_environment("calc", "Production")
    simulated = rig.service.apps["calc"].environments["Production"]
    assert environment.environment_id == simulated.environment_id
    assert environment.production is True
    assert api.get_environment("calc", "Test").production is False
    assert api.deployed_package("calc", "Acceptance") is None


def test_every_deploy_call_with_a_body_says_it_is_json(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    service.apps["calc"].environments["Acceptance"].start_seconds = 0.2
    run = run_local(sim, workspace, environment="Acceptance", download="false")
    assert run.code == 0, run.stderr
    posts = sim.requests("api", "POST")
    assert {p.path.rsplit("/", 1)[1] for p in posts} >= {"stop", "transport", "start"}
    for post in posts:
        assert post.headers.get("content-type") == "application/json", post.path
        json.loads(post.body)
    (stop,) = sim.requests("api", "POST", r"/stop$")
    assert json.loads(stop.body) == {}
