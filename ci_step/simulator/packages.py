"""A simulated deployment package and its lifecycle.

Queued -> Building -> Uploading -> Succeeded (or Failed), as the Build API reference
describes, driven by simulated time; the Build and Deploy APIs both answer with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Constant:
    """A constant of a package's model: its type and default value (None: it has none)."""

    data_type: str = "String"
    default: str | None = None


def constants_of(spec: Mapping[str, str | Constant | None]) -> dict[str, Constant]:
    """``{"Mod.Name": "default" | None | Constant(...)}`` as model constants (String)."""
    return {
        name: value if isinstance(value, Constant) else Constant("String", value)
        for name, value in spec.items()
    }


# The model every simulated app starts with: its environments run it, its packages bring it.
MODEL_CONSTANTS = {
    "MyFirstModule.ApiUrl": Constant("String", "https://api.example.com"),
    "MyFirstModule.PageSize": Constant("Integer", "20"),
    "MyFirstModule.AuditEnabled": Constant("Boolean", "false"),
}
MODEL_EVENTS = {
    "MyFirstModule.NightlyCleanup": "Disabled",
    "MyFirstModule.SendReminders": "Enabled",
}


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
    # False: answers leave out Size. The reference always gives it; a client that survives
    # its absence is tested with this (a deviation, not documented behaviour)
    reports_size: bool = True
    # the model's constants and scheduled events (name -> Enabled/Disabled), which a
    # transport brings to the environment
    constants: dict[str, Constant] = field(default_factory=lambda: dict(MODEL_CONSTANTS))
    scheduled_events: dict[str, str] = field(default_factory=lambda: dict(MODEL_EVENTS))

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
