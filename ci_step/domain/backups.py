"""Backups API v2 answers: snapshots and restores, each a job ``queued → running →
completed | failed``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ci_step.domain.answers import text
from ci_step.domain.ids import API_ID
from ci_step.errors import ApiError

QUEUED, RUNNING, COMPLETED, FAILED = "queued", "running", "completed", "failed"
STATES = (QUEUED, RUNNING, COMPLETED, FAILED)
TERMINAL = frozenset({COMPLETED, FAILED})
_STATE_SHOWN = re.compile(r"[A-Za-z_ -]{1,32}")


@dataclass(frozen=True)
class Job:
    """A snapshot or a restore as the step follows it: its id, state and message."""

    job_id: str
    state: str  # one of STATES
    status_message: str = ""

    @property
    def done(self) -> bool:
        return self.state in TERMINAL


def _id(data: dict[str, Any], key: str, what: str) -> str:
    """The job's id (``key``, or ``id`` as a newer answer may name it), checked."""
    value = data.get(key)
    if value is None:
        value = data.get("id")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not API_ID.fullmatch(value):
        raise ApiError(f"The Backups API answered a {what} without a valid {key}.")
    return value


def _state(data: dict[str, Any], what: str) -> str:
    state = text(data, "state").strip().lower()
    if state in STATES:
        return state
    shown = f" '{state}'" if _STATE_SHOWN.fullmatch(state) else ""
    raise ApiError(
        f"The Backups API answered a {what} in an unknown state{shown}: expected queued, "
        "running, completed or failed."
    )


def _job(data: object, key: str, what: str) -> Job:
    if not isinstance(data, dict):
        raise ApiError(f"The Backups API answered with something that is not a {what}.")
    return Job(
        job_id=_id(data, key, what),
        state=_state(data, what),
        status_message=text(data, "status_message"),
    )


def parse_snapshot(data: object) -> Job:
    return _job(data, "snapshot_id", "snapshot")


def parse_restore(data: object) -> Job:
    return _job(data, "restore_id", "restore")


def parse_snapshot_page(data: object) -> tuple[Job, ...]:
    """The snapshots in the answer to listing them: ``{limit, offset, total, snapshots}``."""
    items = data.get("snapshots") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ApiError("The Backups API answered the snapshot list with something else.")
    return tuple(parse_snapshot(item) for item in items)
