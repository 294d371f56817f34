"""The simulated Mendix side: apps with their branches, packages and environments.

The service holds the apps, the simulated clock, the credentials it accepts and the
``?url=true`` locations (with a TTL) it handed out for the storage host. No HTTP and no
routing here: api.py and storage.py answer requests from it.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from ci_step.simulator import environments as envs
from ci_step.simulator import settings
from ci_step.simulator.backup_jobs import BackupTimes
from ci_step.simulator.packages import (
    MODEL_CONSTANTS,
    MODEL_EVENTS,
    Constant,
    Durations,
    SimPackage,
    constants_of,
)
from ci_step.simulator.pipelines import PipelineService

GIT_HASH = re.compile(r"[0-9a-fA-F]{7,40}")
SVN_REVISION = re.compile(r"[0-9]+")
DEFAULT_SIZE = 512 * 1024


@dataclass
class SimApp:
    app_id: str
    repo: str = "git"  # or "svn"
    branches: dict[str, str] = field(default_factory=dict)
    failing_revisions: set[str] = field(default_factory=set)
    package_size: int = DEFAULT_SIZE
    stuck_builds: bool = False
    reports_size: bool = True
    denied: bool = False
    backup_access: bool = True  # False: the Backups API answers 403 NO_ACCESS
    name: str = ""
    # the model its packages are built from: constants and scheduled events
    constants: dict[str, Constant] = field(default_factory=lambda: dict(MODEL_CONSTANTS))
    scheduled_events: dict[str, str] = field(default_factory=lambda: dict(MODEL_EVENTS))
    packages: list[SimPackage] = field(default_factory=list)
    project_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    environments: dict[str, envs.SimEnvironment] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.branches:
            main = "trunk" if self.repo == "svn" else "main"
            self.branches = {main: "42" if self.repo == "svn" else secrets.token_hex(20)}
        if not self.environments:
            self.environments = envs.default_environments(self.app_id)
        self.name = self.name or self.app_id.capitalize()

    @property
    def url(self) -> str:
        production = self.environments.get("Production")
        return production.url if production else f"https://{self.app_id}.mendixcloud.example"

    def revision_ok(self, revision: str) -> bool:
        pattern = SVN_REVISION if self.repo == "svn" else GIT_HASH
        return bool(pattern.fullmatch(revision)) and revision not in self.failing_revisions


@dataclass
class Storage:
    package: SimPackage
    expires_at: float


@dataclass
class LogLink:
    """A signed location of an environment's log of a day."""

    app_id: str
    mode: str
    date: str
    expires_at: float


class BuildService:
    """The apps the Build, Deploy and App Repository APIs answer about, and their clock."""

    def __init__(
        self,
        username: str,
        api_key: str,
        *,
        durations: Durations | None = None,
        time_scale: float = 1.0,
        url_ttl: int = 900,
        clock: Callable[[], float] = time.monotonic,
        pat: str = "",
        clock_offset: float = 0.0,
        wall_start: float | None = None,
    ) -> None:
        """``clock_offset``: seconds the server's wall clock (CreationDate) is ahead (or,
        negative, behind) the machine's. ``wall_start``: the server's wall-clock time (Unix
        seconds) at simulated second 0, for the dates and times of logs and backups (by
        default now, with the offset)."""
        self.username = username
        self.api_key = api_key
        self.pat = pat
        self.durations = durations or Durations()
        self.time_scale = time_scale
        self.url_ttl = url_ttl
        self.clock = clock
        self.clock_offset = clock_offset
        self.apps: dict[str, SimApp] = {}
        self.storage: dict[str, Storage] = {}
        self.log_links: dict[str, LogLink] = {}
        self.storage_base = ""
        self.backup_times = BackupTimes()
        self.pipelines = PipelineService()  # the Mendix Pipelines API's pipelines and runs
        self.lock = threading.RLock()
        self._epoch = clock()
        self._wall_epoch = time.time() + clock_offset if wall_start is None else wall_start

    # -- set-up ---------------------------------------------------------------
    def sim_now(self) -> float:
        return (self.clock() - self._epoch) * self.time_scale

    def wall(self, at: float) -> float:
        """The server's wall-clock time (Unix seconds) at simulated second ``at``."""
        return self._wall_epoch + at

    def iso(self, at: float) -> str:
        """ISO 8601 (UTC) of simulated second ``at``, as the v2 APIs write times."""
        moment = dt.datetime.fromtimestamp(self.wall(at), dt.UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"

    def today(self) -> str:
        """The server's date (UTC), YYYY-MM-DD."""
        return dt.datetime.fromtimestamp(self.wall(self.sim_now()), dt.UTC).strftime("%Y-%m-%d")

    def add_app(self, app_id: str, **options: Any) -> SimApp:
        app = SimApp(app_id, **options)
        with self.lock:
            self.apps[app_id] = app
        return app

    def seed_package(
        self,
        app_id: str,
        version: str,
        status: str = "Succeeded",
        *,
        size: int | None = None,
        age_seconds: float = 3600.0,
        in_use: bool = False,
        revision: str = "",
        constants: Mapping[str, str | Constant | None] | None = None,
        scheduled_events: Mapping[str, str] | None = None,
        deployed_to: str = "",
    ) -> SimPackage:
        """A package that already exists, frozen in ``status``.

        ``constants`` (``{"Mod.Name": "default"}``, None: no default value) and
        ``scheduled_events`` (``{"Mod.Event": "Enabled"}``) are added to the app's model
        in this package. ``deployed_to``: the environment (mode) runs it already, with the
        settings' defaults and its database synchronised."""
        with self.lock:
            app = self.apps[app_id]
            package = self.new_package(
                app,
                branch="main" if app.repo == "git" else "trunk",
                revision=revision or next(iter(app.branches.values())),
                version=version,
                description="seeded",
                creator="Seed",
            )
            package.fixed_status = status
            package.in_use = in_use
            package.creation_ms -= int(age_seconds * 1000)
            if size is not None:
                package.size = size
            package.constants.update(constants_of(constants or {}))
            package.scheduled_events.update(scheduled_events or {})
            if deployed_to:
                self.deploy(app, deployed_to, package)
            return package

    def deploy(self, app: SimApp, mode: str, package: SimPackage) -> None:
        """Set up ``mode`` running ``package`` (seed data, no API call)."""
        environment = app.environments[mode]
        environment.package_id = package.package_id
        environment.model_version = f"{package.version}.{package.revision}"
        environment.database = environment.model_version
        environment.status = "Running"
        environment.constants, environment.scheduled_events = settings.of_model(
            package.constants, package.scheduled_events
        )

    def new_package(
        self,
        app: SimApp,
        *,
        branch: str,
        revision: str,
        version: str,
        description: str,
        creator: str,
    ) -> SimPackage:
        package = SimPackage(
            package_id=str(uuid.uuid4()),
            app_id=app.app_id,
            branch=branch,
            revision=revision,
            version=version,
            description=description,
            creator=creator,
            creation_ms=int((time.time() + self.clock_offset) * 1000),
            created_at=self.sim_now(),
            size=app.package_size,
            durations=self.durations,
            fails=not app.revision_ok(revision) or branch not in app.branches,
            stuck=app.stuck_builds,
            reports_size=app.reports_size,
            constants=dict(app.constants),
            scheduled_events=dict(app.scheduled_events),
        )
        app.packages.append(package)
        return package

    # -- answers --------------------------------------------------------------
    def authorised(self, headers: dict[str, str]) -> bool:
        return (
            headers.get("mendix-username") == self.username
            and headers.get("mendix-apikey") == self.api_key
        )

    def log_location(self, app_id: str, mode: str, date: str) -> str:
        """A signed location of an environment's log of ``date`` on the storage host."""
        token = secrets.token_urlsafe(24)
        self.log_links[token] = LogLink(app_id, mode, date, self.clock() + self.url_ttl)
        return f"{self.storage_base}/logs/{token}/{quote(f'{app_id}-{mode}-{date}.log')}"

    def log_lookup(self, token: str) -> tuple[LogLink | None, bool]:
        """(link, expired) for a log token."""
        with self.lock:
            link = self.log_links.get(token)
        return link, link is not None and self.clock() >= link.expires_at

    def location(self, package: SimPackage) -> str:
        """A new ``?url=true`` location of ``package`` on the storage host, valid for the TTL."""
        token = secrets.token_urlsafe(24)
        self.storage[token] = Storage(package, self.clock() + self.url_ttl)
        return f"{self.storage_base}/mda/{token}/{quote(package.name + '.mda')}"

    # -- storage host ---------------------------------------------------------
    def storage_lookup(self, token: str) -> tuple[SimPackage | None, bool]:
        """(package, expired) for a storage token."""
        with self.lock:
            entry = self.storage.get(token)
        if entry is None:
            return None, False
        return entry.package, self.clock() >= entry.expires_at

    def expire_all(self) -> None:
        with self.lock:
            for entry in self.storage.values():
                entry.expires_at = 0.0
            for link in self.log_links.values():
                link.expires_at = 0.0
