"""The Backups API v2: ``api/v2/apps/{ProjectId}/environments/{EnvironmentId}/...``.

``snapshots`` (GET: a page ``{limit, offset, total, snapshots}``, newest first; POST
``{"comment"}``: a new snapshot), ``snapshots/{SnapshotId}``, ``restores?source_snapshot_id=
…&db_only=true|false`` (POST) and ``restores/{RestoreId}``; jobs in backup_jobs.py. The same
two Mendix headers as v1. The notes give no error body for v2, so errors use v1's
``{"errorCode", "errorMessage"}`` (*unverified*). Creates answer 201 (the notes: success
codes of the create calls are undocumented, accept any 2xx).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from ci_step.simulator.backup_jobs import (
    COMPLETED,
    KEPT_DAYS,
    RESTORE_MESSAGES,
    SNAPSHOT_MESSAGES,
    SimRestore,
    SimSnapshot,
)
from ci_step.simulator.build_api import Handler
from ci_step.simulator.environments import SimEnvironment
from ci_step.simulator.reply import Reply, error
from ci_step.simulator.routes import Call, json_only
from ci_step.simulator.state import BuildService, SimApp

Answer = Callable[[BuildService, Call, SimApp, SimEnvironment], Reply]
DEFAULT_LIMIT = 100  # *unverified*: the notes give no default page size
_NO_ACCESS = "You do not have 'Access to Backups' for this app."


def environment_known(service: BuildService, call: Call) -> Reply | None:
    found = _find(service, call)
    return found if isinstance(found, Reply) else None


def _find(service: BuildService, call: Call) -> tuple[SimApp, SimEnvironment] | Reply:
    """An unknown project answers as an unknown environment (the notes list only that 404)."""
    project, environment_id = call.params["project"], call.params["environment"]
    app = next((a for a in service.apps.values() if a.project_id == project), None)
    if app is not None and (app.denied or not app.backup_access):
        return error(403, "NO_ACCESS", _NO_ACCESS)
    environments = app.environments.values() if app is not None else []
    environment = next((e for e in environments if e.environment_id == environment_id), None)
    if app is None or environment is None:
        return error(404, "ENVIRONMENT_NOT_FOUND", "Environment not found.")
    environment.current_status(service.sim_now())  # applies restores that completed
    return app, environment


def _on_environment(answer: Answer) -> Handler:
    def handler(service: BuildService, call: Call) -> Reply:
        found = _find(service, call)
        return found if isinstance(found, Reply) else answer(service, call, *found)

    return handler


# -- snapshots ---------------------------------------------------------------------
@_on_environment
def list_snapshots(
    service: BuildService, call: Call, app: SimApp, environment: SimEnvironment
) -> Reply:
    try:
        offset = int(call.query.get("offset", "0"))
        limit = int(call.query.get("limit", str(DEFAULT_LIMIT)))
    except ValueError:
        offset = limit = -1
    # *Unverified*: how bad paging values are refused, and the order (newest first)
    if offset < 0 or limit < 1:
        return error(400, "INVALID_PARAMETERS", "offset and limit must be whole numbers.")
    newest_first = sorted(environment.snapshots, key=lambda s: s.created, reverse=True)
    page = newest_first[offset : offset + limit]
    return Reply(
        200,
        {
            "limit": limit,
            "offset": offset,
            "total": len(newest_first),
            "snapshots": [describe_snapshot(service, s) for s in page],
        },
    )


@json_only
@_on_environment
def create_snapshot(
    service: BuildService, call: Call, app: SimApp, environment: SimEnvironment
) -> Reply:
    data = call.json()
    comment = data.get("comment", "") if isinstance(data, dict) else None
    if not isinstance(comment, str):  # *unverified* refusal
        return error(400, "INVALID_PARAMETERS", 'The body must be {"comment": "..."}.')
    now = service.sim_now()
    if environment.busy(now):
        return _busy()
    times = service.backup_times
    snapshot = SimSnapshot(
        str(uuid.uuid4()),
        now,
        times.queued,
        times.snapshot,
        environment.snapshot_fails,
        comment=comment,
        model_version=environment.model_version,
        database=environment.database,
    )
    environment.snapshots.append(snapshot)
    return Reply(201, describe_snapshot(service, snapshot))


@_on_environment
def get_snapshot(
    service: BuildService, call: Call, app: SimApp, environment: SimEnvironment
) -> Reply:
    wanted = call.params["snapshot"]
    snapshot = next((s for s in environment.snapshots if s.job_id == wanted), None)
    if snapshot is None:
        return error(404, "NOT_FOUND", "Snapshot not found.")
    return Reply(200, describe_snapshot(service, snapshot))


def describe_snapshot(service: BuildService, snapshot: SimSnapshot) -> dict[str, Any]:
    """``finished_at`` is null until the job ends; ``expires_at`` null unless completed."""
    now = service.sim_now()
    state = snapshot.state(now)
    done = not snapshot.busy(now)
    return {
        "snapshot_id": snapshot.job_id,
        "state": state,
        "status_message": SNAPSHOT_MESSAGES[state],
        "model_version": snapshot.model_version,
        "comment": snapshot.comment,
        "created_at": service.iso(snapshot.created),
        "updated_at": service.iso(snapshot.changed(now)),
        "finished_at": service.iso(snapshot.ended) if done else None,
        "expires_at": (
            service.iso(snapshot.ended + KEPT_DAYS * 86400) if state == COMPLETED else None
        ),
    }


# -- restores ----------------------------------------------------------------------
@json_only
@_on_environment
def create_restore(
    service: BuildService, call: Call, app: SimApp, environment: SimEnvironment
) -> Reply:
    """Only onto a stopped environment, from a completed snapshot of the same app."""
    wanted = call.query.get("source_snapshot_id", "")
    db_only = call.query.get("db_only", "false").lower()
    if db_only not in ("true", "false"):  # *unverified* refusal, as for every bad parameter
        return error(400, "INVALID_PARAMETERS", "db_only must be true or false.")
    snapshots = [s for e in app.environments.values() for s in e.snapshots]
    source = next((s for s in snapshots if s.job_id == wanted), None)
    if source is None:
        return error(400, "NOT_FOUND", "Source snapshot not found.")
    now = service.sim_now()
    if source.state(now) != COMPLETED:
        return error(400, "ERROR_NOT_ALLOWED", "The source snapshot is not completed.")
    if environment.busy(now):
        return _busy()
    if environment.current_status(now) != "Stopped":
        return error(400, "ERROR_NOT_ALLOWED", "The environment must be stopped to restore.")
    times = service.backup_times
    restore = SimRestore(
        str(uuid.uuid4()),
        now,
        times.queued,
        times.restore,
        environment.restore_fails,
        source=source,
        target_environment_id=environment.environment_id,
    )
    environment.restores.append(restore)
    return Reply(201, describe_restore(service, restore))


@_on_environment
def get_restore(
    service: BuildService, call: Call, app: SimApp, environment: SimEnvironment
) -> Reply:
    wanted = call.params["restore"]
    restore = next((r for r in environment.restores if r.job_id == wanted), None)
    if restore is None:
        return error(404, "NOT_FOUND", "Restore not found.")
    return Reply(200, describe_restore(service, restore))


def describe_restore(service: BuildService, restore: SimRestore) -> dict[str, Any]:
    state = restore.state(service.sim_now())
    return {
        "restore_id": restore.job_id,
        "state": state,
        "status_message": RESTORE_MESSAGES[state],
        "source_snapshot_id": restore.source.job_id,
        "target_environment_id": restore.target_environment_id,
    }


def _busy() -> Reply:
    return error(400, "ENVIRONMENT_BUSY", "A backup or restore is already running on it.")
