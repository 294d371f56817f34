"""Snapshots before a deploy and restores after a failed one (Backups API v2).

A snapshot or restore is a job (queued, running, completed or failed) watched on the
polling schedule within the step's deadline. Both name the environment by the ids the
v2 API uses: the app's ProjectId and the environment's EnvironmentId.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ci_step.domain.backups import COMPLETED, Job
from ci_step.errors import ApiError, DeadlineExceeded, input_name
from ci_step.flow.heartbeat import Heartbeat
from ci_step.flow.schedule import next_wait
from ci_step.flow.services import Services
from ci_step.mendix.backups_api import BackupsApi
from ci_step.mendix.deploy_api import DeployApi


class BackupFailed(ApiError):
    """A snapshot or restore job ended ``failed``."""


@dataclass(frozen=True)
class Backups:
    """The Backups API for one environment."""

    api: BackupsApi
    project_id: str
    environment_id: str
    mode: str
    poll_interval: float

    @classmethod
    def of(
        cls, services: Services, app_id: str, mode: str, environment_id: str, poll_interval: float
    ) -> Backups:
        """The Backups API for ``mode``, whose EnvironmentId the caller has read already."""
        project_id = DeployApi(services.api).get_app(app_id)
        if not environment_id:
            raise ApiError(
                f"The Deploy API gave no EnvironmentId for {mode}; without it no snapshot "
                "can be taken."
            )
        return cls(BackupsApi(services.api), project_id, environment_id, mode, poll_interval)

    def check_access(self) -> None:
        """A cheap call that the 'Access to Backups' permission allows (exit 3 if not)."""
        self.api.list_snapshots(self.project_id, self.environment_id, limit=1)

    def snapshot(self, services: Services, comment: str) -> str:
        """Take a snapshot and wait until it is completed; its id."""
        snapshot = self.api.create_snapshot(self.project_id, self.environment_id, comment)
        snapshot_id = snapshot.job_id
        services.log.info(f"Snapshot of {self.mode} started", snapshot_id=snapshot_id)
        snapshot = self._watch(
            services,
            snapshot,
            lambda: self.api.get_snapshot(self.project_id, self.environment_id, snapshot_id),
            "the snapshot",
        )
        if snapshot.state != COMPLETED:
            raise BackupFailed(
                f"The snapshot of {self.mode} ({snapshot.job_id}) ended {snapshot.state}"
                + (f": {snapshot.status_message}" if snapshot.status_message else "")
                + ".",
                fix="look at the environment's Backups page in the Mendix Portal, then deploy "
                f"again (or set {input_name('backup', 'false')} to deploy without a snapshot)",
            )
        services.log.info(f"Snapshot of {self.mode} completed", snapshot_id=snapshot.job_id)
        return snapshot.job_id

    def restore(self, services: Services, snapshot_id: str) -> None:
        """Put the snapshot's database back (the environment must be stopped); wait for it."""
        restore = self.api.create_restore(self.project_id, self.environment_id, snapshot_id)
        services.log.info(f"Restore of {self.mode}'s database started", restore_id=restore.job_id)
        restore_id = restore.job_id
        restore = self._watch(
            services,
            restore,
            lambda: self.api.get_restore(self.project_id, self.environment_id, restore_id),
            "the restore",
        )
        if restore.state != COMPLETED:
            raise BackupFailed(
                f"The restore of snapshot {snapshot_id} onto {self.mode} ended {restore.state}"
                + (f": {restore.status_message}" if restore.status_message else "")
                + "."
            )
        services.log.info(f"Database of {self.mode} restored", snapshot_id=snapshot_id)

    def _watch(self, services: Services, job: Job, read: Callable[[], Job], what: str) -> Job:
        """Read the job on the polling schedule until it ends; a heartbeat while it runs."""
        started = services.clock.now()
        heartbeat = Heartbeat(services.clock, services.log, f"{what} of {self.mode}")
        while not job.done:
            wait = next_wait(services.clock.now() - started, self.poll_interval)
            heartbeat.beat(job.state, wait)
            _pause(services, wait, f"waiting for {what}")
            job = read()
        return job


def _pause(services: Services, wait: float, doing: str) -> None:
    try:
        services.deadline.sleep(wait, doing)
    except DeadlineExceeded as exc:
        raise DeadlineExceeded(
            f"The timeout passed while {doing}; the job goes on at Mendix.", fix=exc.fix
        ) from None
