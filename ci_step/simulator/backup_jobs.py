"""Backups API v2 jobs: snapshots and restores, ``queued → running → completed | failed``.

A job's state follows the simulated clock: ``queued`` for ``BackupTimes.queued`` seconds,
then ``running`` for the snapshot's or the restore's seconds, then its end. The database
an environment has is modelled as one value (the model version it was synchronised to);
a snapshot keeps the value it found, a completed restore puts it back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

QUEUED, RUNNING, COMPLETED, FAILED = "queued", "running", "completed", "failed"
SNAPSHOT_MESSAGES = {
    QUEUED: "Snapshot is queued.",
    RUNNING: "Creating snapshot.",
    COMPLETED: "Snapshot created.",
    FAILED: "Snapshot failed: the database dump did not complete.",
}
RESTORE_MESSAGES = {
    QUEUED: "Restore is queued.",
    RUNNING: "Restoring snapshot.",
    COMPLETED: "Restore completed.",
    FAILED: "Restore failed: the database could not be restored.",
}
KEPT_DAYS = 30  # how long a completed snapshot is kept (expires_at); *unverified*


@dataclass
class BackupTimes:
    """Seconds (of simulated time) a backup job spends queued and running."""

    queued: float = 1.0
    snapshot: float = 4.0
    restore: float = 6.0


@dataclass
class Job:
    job_id: str
    created: float  # simulated seconds
    queued: float
    running: float
    fails: bool

    def state(self, now: float) -> str:
        if now < self.created + self.queued:
            return QUEUED
        if now < self.ended:
            return RUNNING
        return FAILED if self.fails else COMPLETED

    @property
    def ended(self) -> float:
        return self.created + self.queued + self.running

    def changed(self, now: float) -> float:
        """When the state last changed (for updated_at)."""
        if now < self.created + self.queued:
            return self.created
        return self.created + self.queued if now < self.ended else self.ended

    def busy(self, now: float) -> bool:
        return self.state(now) in (QUEUED, RUNNING)


@dataclass
class SimSnapshot(Job):
    comment: str = ""
    model_version: str = ""
    database: str = ""  # the database it holds


@dataclass
class SimRestore(Job):
    source: SimSnapshot = field(kw_only=True)
    target_environment_id: str = ""
    applied: bool = False
