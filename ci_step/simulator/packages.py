"""A simulated deployment package and its lifecycle.

Queued -> Building -> Uploading -> Succeeded (or Failed), as the Build API reference
describes, driven by simulated time; the Build and Deploy APIs both answer with it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Durations:
    """Seconds (of simulated time) a build spends in each in-progress status."""

    queued: float = 1.0
    building: float = 3.0
    uploading: float = 1.0


@dataclass
class SimPackage:
    package_id: str
    app_id: str
    branch: str
    revision: str
    version: str
    description: str
    creator: str
    creation_ms: int
    created_at: float
    size: int
    durations: Durations
    fails: bool = False
    stuck: bool = False
    in_use: bool = False
    fixed_status: str | None = None
    reports_size: bool = True  # False: answers leave out Size, as the reference allows

    def status(self, now: float) -> str:
        if self.fixed_status is not None:
            return self.fixed_status
        if self.stuck:
            return "Queued"
        age = now - self.created_at
        d = self.durations
        if age < d.queued:
            return "Queued"
        if age < d.queued + d.building:
            return "Building"
        if self.fails:
            return "Failed"
        if age < d.queued + d.building + d.uploading:
            return "Uploading"
        return "Succeeded"

    @property
    def name(self) -> str:
        line = (
            "Main line"
            if self.branch in ("main", "trunk")
            else self.branch.removeprefix("branches/")
        )
        return f"{line}-{self.version}.{self.revision}"

    @property
    def seed(self) -> str:
        return f"{self.app_id}/{self.package_id}"
