"""The Mendix Backups API v2: snapshots of an environment's database and restores of them.

It lives on the Deploy API's origin (``{base-url}/api/v2``) and takes the same two
headers, so it rides the Build API's session and transport: the credentials go only
to that origin, with the same retries, deadline and redirect refusal. It names the app
by its ProjectId and the environment by its EnvironmentId (both from Deploy API v1).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from ci_step.domain.backups import (
    Job,
    parse_restore,
    parse_snapshot,
    parse_snapshot_page,
)
from ci_step.errors import input_name
from ci_step.mendix.build_api import BuildApi, error_fixes, json_answer


def backups_rights_fix() -> str:
    return (
        "give the user 'Access to Backups' (and 'API Rights') on this environment: Mendix "
        "Portal, the app's Environments page, Permissions tab; or set "
        f"{input_name('backup', 'false')}"
    )


def backup_fixes() -> dict[str, str]:
    """The Build API's fixes, and those of the Backups API's own error codes."""
    return error_fixes() | {
        "NO_ACCESS": backups_rights_fix(),
        "NOT_SUPPORTED": (
            f"backups exist only in Mendix Cloud: set {input_name('backup', 'false')} for this "
            "environment"
        ),
        "ENVIRONMENT_BUSY": "another backup or restore runs on the environment; wait and re-run",
        "INVALID_STATE": "maintenance is in progress on the environment; wait and re-run",
        "NOT_FOUND": (
            "the snapshot no longer exists; look at the environment's backups in the Portal"
        ),
        "ERROR_NOT_ALLOWED": (
            "the restore was refused: the environment must be stopped and the snapshot must "
            "belong to the same app"
        ),
    }


class BackupsApi:
    def __init__(self, api: BuildApi) -> None:
        self.api = api
        self.root = f"{api.base_url}/api/v2"

    def _environment(self, project_id: str, environment_id: str) -> str:
        return (
            f"{self.root}/apps/{quote(project_id, safe='')}"
            f"/environments/{quote(environment_id, safe='')}"
        )

    def _call(
        self, method: str, url: str, *, doing: str, json: dict[str, Any] | None = None
    ) -> Any:
        """One call: creating a job (a POST) is never repeated blindly (it may have started)."""
        response = self.api.transport.request(method, url, doing=doing, json=json)
        return json_answer(response, doing, backup_fixes(), backups_rights_fix())

    def list_snapshots(
        self, project_id: str, environment_id: str, limit: int = 1
    ) -> tuple[Job, ...]:
        """The environment's newest snapshots (limit 1: the cheapest access check)."""
        query = urlencode({"offset": 0, "limit": limit})
        data = self._call(
            "GET",
            f"{self._environment(project_id, environment_id)}/snapshots?{query}",
            doing="listing the environment's snapshots",
        )
        return parse_snapshot_page(data)

    def create_snapshot(self, project_id: str, environment_id: str, comment: str) -> Job:
        data = self._call(
            "POST",
            f"{self._environment(project_id, environment_id)}/snapshots",
            doing="creating a snapshot",
            json={"comment": comment},
        )
        return parse_snapshot(data)

    def get_snapshot(self, project_id: str, environment_id: str, snapshot_id: str) -> Job:
        data = self._call(
            "GET",
            f"{self._environment(project_id, environment_id)}/snapshots/"
            f"{quote(snapshot_id, safe='')}",
            doing=f"reading snapshot {snapshot_id}",
        )
        return parse_snapshot(data)

    def create_restore(
        self, project_id: str, environment_id: str, snapshot_id: str, db_only: bool = True
    ) -> Job:
        """Restore ``snapshot_id`` onto the environment (which must be stopped)."""
        query = urlencode(
            {"source_snapshot_id": snapshot_id, "db_only": "true" if db_only else "false"}
        )
        data = self._call(
            "POST",
            f"{self._environment(project_id, environment_id)}/restores?{query}",
            doing=f"restoring snapshot {snapshot_id}",
        )
        return parse_restore(data)

    def get_restore(self, project_id: str, environment_id: str, restore_id: str) -> Job:
        data = self._call(
            "GET",
            f"{self._environment(project_id, environment_id)}/restores/"
            f"{quote(restore_id, safe='')}",
            doing=f"reading restore {restore_id}",
        )
        return parse_restore(data)
