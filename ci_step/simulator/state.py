"""The simulated Mendix side: apps, branches, packages and their lifecycle.

Follows the Build API reference: field names, the status lifecycle
Queued -> Building -> Uploading -> Succeeded (or Failed), the documented
error codes, and ``?url=true`` locations with a TTL on a separate storage host.
No HTTP here: each call returns a Reply that the server turns into bytes.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from ci_step.simulator import content
from ci_step.simulator import environments as envs
from ci_step.simulator.reply import Reply, error

APP_ID = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
VERSION = re.compile(r"\d+\.\d+\.\d+")
GIT_HASH = re.compile(r"[0-9a-fA-F]{7,40}")
SVN_REVISION = re.compile(r"[0-9]+")
DEFAULT_SIZE = 512 * 1024


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
    """Answers Build API and Team Server calls for the apps it holds."""

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
            package = self._new_package(
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

    def _new_package(
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

    # -- requests -------------------------------------------------------------
    def authorised(self, headers: dict[str, str]) -> bool:
        return (
            headers.get("mendix-username") == self.username
            and headers.get("mendix-apikey") == self.api_key
        )

    def handle(
        self,
        method: str,
        parts: list[str],
        query: dict[str, str],
        headers: dict[str, str],
        body: bytes,
    ) -> Reply:
        if parts[:2] == ["v1", "repositories"]:
            return self._repository(parts[2:], headers)
        if len(parts) < 2 or parts[:2] != ["api", "1"]:
            return error(404, "NOT_FOUND", "No such endpoint.")
        if not self.authorised(headers):
            return error(401, "UNAUTHORIZED", "Invalid Mendix-Username or Mendix-ApiKey.")
        rest = parts[2:]
        if len(rest) < 3 or rest[0] != "apps":
            return error(404, "NOT_FOUND", "No such endpoint.")
        app_id, resource, tail = rest[1], rest[2], rest[3:]
        if not APP_ID.fullmatch(app_id):
            return error(400, "INVALID_APPID", "Invalid AppId")
        with self.lock:
            app = self.apps.get(app_id)
            if app is not None and app.denied:
                return error(403, "NO_ACCESS", "You do not have API Rights on this app.")
            if resource == "packages":
                return self._packages(method, app, app_id, tail, query, body)
            if resource == "branches" and method == "GET":
                return self._branches(app, tail)
            if resource == "environments":
                if app is None:
                    return error(404, "APP_NOT_FOUND", "App not found.")
                return envs.handle(
                    method, app.environments, app.packages, tail, body, self.sim_now()
                )
        return error(404, "NOT_FOUND", "No such endpoint.")

    def _packages(
        self,
        method: str,
        app: SimApp | None,
        app_id: str,
        tail: list[str],
        query: dict[str, str],
        body: bytes,
    ) -> Reply:
        if not tail:
            if method == "GET":
                if app is None:
                    return error(404, "APP_NOT_FOUND", "App not found.")
                now = self.sim_now()
                return Reply(200, [self._describe(p, now) for p in app.packages])
            if method == "POST":
                return self._start(app, body)
            return error(405, "METHOD_NOT_ALLOWED", "Method not allowed.")
        package_id = tail[0]
        if not package_id:
            return error(
                400,
                "INVALID_PARAMETERS",
                "Not enough parameters given. Please set AppId and PackageId parameters.",
            )
        package = self._find(app, package_id)
        if package is None:
            return error(404, "PACKAGE_NOT_FOUND", "Package or build job not found.")
        now = self.sim_now()
        if len(tail) == 1 and method == "GET":
            described = self._describe(package, now)
            if query.get("url", "false").lower() == "true" and package.status(now) == "Succeeded":
                described["Url"] = {"Location": self._location(package), "TTL": self.url_ttl}
            return Reply(200, described)
        if len(tail) == 1 and method == "DELETE":
            if package.in_use or package.status(now) in ("Queued", "Building", "Uploading"):
                return error(409, "PACKAGE_IN_USE", "Package is still in use.")
            if app is not None:
                app.packages.remove(package)
            return Reply(200, None)
        if tail[1:] == ["download"] and method == "GET":
            if package.status(now) != "Succeeded":
                return error(500, "BUILD_NOT_SUCCEEDED", "Build not successful finished.")
            return Reply(
                200,
                headers={"Content-Type": "application/octet-stream"},
                chunks=content.stream(package.seed, package.size),
                length=package.size,
            )
        return error(404, "NOT_FOUND", "No such endpoint.")

    def _start(self, app: SimApp | None, body: bytes) -> Reply:
        try:
            data = json.loads(body or b"null")
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return error(
                400,
                "INVALID_PARAMETERS",
                "Not enough parameters given. Please set Revision and Version parameters.",
            )
        revision, version = data.get("Revision"), data.get("Version")
        branch, description = data.get("Branch"), data.get("Description", "")
        if not (isinstance(revision, str) and revision and isinstance(version, str) and version):
            return error(
                400,
                "INVALID_PARAMETERS",
                "Not enough parameters given. Please set Revision and Version parameters.",
            )
        if not VERSION.fullmatch(version):
            return error(
                400,
                "INVALID_VERSION",
                "The Version parameter does not contain a valid version string. Please "
                "provide a version with a major, minor and patch number, like '2.3.5'.",
            )
        if app is None:
            return error(404, "APP_NOT_FOUND", "App not found.")
        if not isinstance(branch, str) or not branch:
            branch = "trunk" if app.repo == "svn" else "main"
        package = self._new_package(
            app,
            branch=branch,
            revision=revision,
            version=version,
            description=description if isinstance(description, str) else "",
            creator=self.username,
        )
        return Reply(200, {"PackageId": package.package_id})

    def _branches(self, app: SimApp | None, tail: list[str]) -> Reply:
        if app is None:
            return error(404, "APP_NOT_FOUND", "App not found.")
        if not tail:
            return Reply(200, [self._branch(app, name) for name in app.branches])
        name = tail[0]
        if len(tail) != 1 or name not in app.branches:
            return error(404, "BRANCH_NOT_FOUND", "Branch not found.")
        return Reply(200, self._branch(app, name))

    def _repository(self, rest: list[str], headers: dict[str, str]) -> Reply:
        """App Repository API: GET /v1/repositories/{ProjectId}/branches/{name}."""
        if not self.pat or headers.get("authorization") != f"MxToken {self.pat}":
            return error(401, "UNAUTHORIZED", "Invalid or missing personal access token.")
        if len(rest) != 3 or rest[1] != "branches":
            return error(404, "NOT_FOUND", "No such endpoint.")
        with self.lock:
            app = next((a for a in self.apps.values() if a.project_id == rest[0]), None)
            if app is None:
                return error(404, "REPOSITORY_NOT_FOUND", "Repository not found.")
            heads = {name.removeprefix("branches/"): rev for name, rev in app.branches.items()}
        if rest[2] not in heads:
            return error(404, "BRANCH_NOT_FOUND", "Branch not found.")
        return Reply(
            200,
            {
                "name": rest[2],
                "latestCommit": {
                    "id": heads[rest[2]],
                    "author": {"name": "Dev"},
                    "date": "2026-11-01T10:00:00Z",
                    "message": "Commit from Studio Pro",
                },
            },
        )

    @staticmethod
    def _branch(app: SimApp, name: str) -> dict[str, Any]:
        revision = app.branches[name]
        return {
            "Name": name,
            "DisplayName": "Main line" if name in ("main", "trunk") else name,
            "LatestRevisionNumber": int(revision) if app.repo == "svn" else revision,
            "LatestRevisionMendixVersion": "10.12.0.45678",
        }

    @staticmethod
    def _find(app: SimApp | None, package_id: str) -> SimPackage | None:
        if app is None:
            return None
        return next((p for p in app.packages if p.package_id == package_id), None)

    @staticmethod
    def _describe(package: SimPackage, now: float) -> dict[str, Any]:
        status = package.status(now)
        described: dict[str, Any] = {
            "PackageId": package.package_id,
            "Name": package.name,
            "Description": package.description,
            "Version": package.version,
            "Creator": package.creator,
            "CreationDate": package.creation_ms,
            "Status": status,
            "Size": package.size if status == "Succeeded" else 0,
        }
        if not package.reports_size:
            del described["Size"]
        return described

    def _location(self, package: SimPackage) -> str:
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
