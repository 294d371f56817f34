"""The simulated Mendix side: apps with their branches, packages and environments.

The service holds the apps, the simulated clock, the credentials it accepts and the
``?url=true`` locations (with a TTL) it handed out for the storage host. No HTTP and no
routing here: api.py and storage.py answer requests from it.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from ci_step.simulator import environments as envs
from ci_step.simulator.packages import Durations, SimPackage

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
    packages: list[SimPackage] = field(default_factory=list)
    project_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    environments: dict[str, envs.SimEnvironment] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.branches:
            main = "trunk" if self.repo == "svn" else "main"
            self.branches = {main: "42" if self.repo == "svn" else secrets.token_hex(20)}
        if not self.environments:
            self.environments = envs.default_environments(self.app_id)

    def revision_ok(self, revision: str) -> bool:
        pattern = SVN_REVISION if self.repo == "svn" else GIT_HASH
        return bool(pattern.fullmatch(revision)) and revision not in self.failing_revisions


@dataclass
class Storage:
    package: SimPackage
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
    ) -> None:
        """``clock_offset``: seconds the server's wall clock (CreationDate) is ahead (or,
        negative, behind) the machine's."""
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
        self.storage_base = ""
        self.lock = threading.RLock()
        self._epoch = clock()

    # -- set-up ---------------------------------------------------------------
    def sim_now(self) -> float:
        return (self.clock() - self._epoch) * self.time_scale

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
    ) -> SimPackage:
        """A package that already exists, frozen in ``status``."""
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
            return package

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
        )
        app.packages.append(package)
        return package

    # -- answers --------------------------------------------------------------
    def authorised(self, headers: dict[str, str]) -> bool:
        return (
            headers.get("mendix-username") == self.username
            and headers.get("mendix-apikey") == self.api_key
        )

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
