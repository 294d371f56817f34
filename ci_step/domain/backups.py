"""Backups API v2 answers: snapshots and restores, each a job ``queued → running →
completed | failed``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ci_step.errors import ApiError

QUEUED, RUNNING, COMPLETED, FAILED = "queued", "running", "completed", "failed"
STATES = (QUEUED, RUNNING, COMPLETED, FAILED)
TERMINAL = frozenset({COMPLETED, FAILED})
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_STATE_SHOWN = re.compile(r"[A-Za-z_ -]{1,32}")


@dataclass(frozen=True)
class Snapshot:
    snapshot_id: str
    state: str  # one of STATES
    status_message: str = ""
    model_version: str = ""
    comment: str = ""
    created_at: str = ""
    finished_at: str = ""
    expires_at: str = ""

    @property
    def done(self) -> bool:
        return self.state in TERMINAL


@dataclass(frozen=True)
class Restore:
    restore_id: str
    state: str  # one of STATES
    status_message: str = ""
    source_snapshot_id: str = ""
    target_environment_id: str = ""

    @property
    def done(self) -> bool:
        return self.state in TERMINAL


@dataclass(frozen=True)
class SnapshotPage:
    total: int | None
    snapshots: tuple[Snapshot, ...]


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


def _id(data: dict[str, Any], key: str, what: str) -> str:
    """The job's id (``key``, or ``id`` as a newer answer may name it), checked."""
    value = data.get(key)
    if value is None:
        value = data.get("id")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _SAFE_ID.fullmatch(value):
        raise ApiError(f"The Backups API answered a {what} without a valid {key}.")
    return value


def _state(data: dict[str, Any], what: str) -> str:
    state = _text(data, "state").strip().lower()
    if state in STATES:
        return state
    shown = f" '{state}'" if _STATE_SHOWN.fullmatch(state) else ""
    raise ApiError(
        f"The Backups API answered a {what} in an unknown state{shown}: expected queued, "
        "running, completed or failed."
    )


def parse_snapshot(data: object) -> Snapshot:
    if not isinstance(data, dict):
        raise ApiError("The Backups API answered with something that is not a snapshot.")
    return Snapshot(
        snapshot_id=_id(data, "snapshot_id", "snapshot"),
        state=_state(data, "snapshot"),
        status_message=_text(data, "status_message"),
        model_version=_text(data, "model_version"),
        comment=_text(data, "comment"),
        created_at=_text(data, "created_at"),
        finished_at=_text(data, "finished_at"),
        expires_at=_text(data, "expires_at"),
    )


def parse_restore(data: object) -> Restore:
    if not isinstance(data, dict):
        raise ApiError("The Backups API answered with something that is not a restore.")
    return Restore(
        restore_id=_id(data, "restore_id", "restore"),
        state=_state(data, "restore"),
        status_message=_text(data, "status_message"),
        source_snapshot_id=_text(data, "source_snapshot_id"),
        target_environment_id=_text(data, "target_environment_id"),
    )


def parse_snapshot_page(data: object) -> SnapshotPage:
    """The answer to listing snapshots: ``{limit, offset, total, snapshots: […]}``."""
    items = data.get("snapshots") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not isinstance(items, list):
        raise ApiError("The Backups API answered the snapshot list with something else.")
    total = data.get("total")
    return SnapshotPage(
        total=total if isinstance(total, int) and not isinstance(total, bool) else None,
        snapshots=tuple(parse_snapshot(item) for item in items),
    )
