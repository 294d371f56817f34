"""The simulated Build API v1: packages (list, start, get, delete, download) and branches.

Follows the Build API reference: field names, the status lifecycle, the documented
error codes, and ``?url=true`` locations with a TTL on the separate storage host.
Each handler answers one row of api.py's table; the service's lock is held.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ci_step.simulator import content
from ci_step.simulator.packages import SimPackage
from ci_step.simulator.reply import Reply, error
from ci_step.simulator.routes import Call
from ci_step.simulator.state import BuildService, SimApp

Handler = Callable[[BuildService, Call], Reply]

APP_ID = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
VERSION = re.compile(r"\d+\.\d+\.\d+")
_MISSING_START = "Not enough parameters given. Please set Revision and Version parameters."
_MISSING_PACKAGE = "Not enough parameters given. Please set AppId and PackageId parameters."
_BAD_VERSION = (
    "The Version parameter does not contain a valid version string. Please "
    "provide a version with a major, minor and patch number, like '2.3.5'."
)


# -- scope checks --------------------------------------------------------------
def authorised(service: BuildService, call: Call) -> Reply | None:
    if service.authorised(call.headers):
        return None
    return error(401, "UNAUTHORIZED", "Invalid Mendix-Username or Mendix-ApiKey.")


def app_allowed(service: BuildService, call: Call) -> Reply | None:
    """``apps/{app}/...``: a valid AppId, and API rights on the app if it exists."""
    app_id = call.params["app"]
    if not APP_ID.fullmatch(app_id):
        return error(400, "INVALID_APPID", "Invalid AppId")
    app = service.apps.get(app_id)
    if app is not None and app.denied:
        return error(403, "NO_ACCESS", "You do not have API Rights on this app.")
    return None


def app_known(service: BuildService, call: Call) -> Reply | None:
    found = find_app(service, call)
    return found if isinstance(found, Reply) else None


def package_known(service: BuildService, call: Call) -> Reply | None:
    found = _find_package(service, call)
    return found if isinstance(found, Reply) else None


def find_app(service: BuildService, call: Call) -> SimApp | Reply:
    app = service.apps.get(call.params["app"])
    return error(404, "APP_NOT_FOUND", "App not found.") if app is None else app


def on_app(answer: Callable[[BuildService, Call, SimApp], Reply]) -> Handler:
    """A handler that answers APP_NOT_FOUND for an unknown ``{app}``, else ``answer``."""

    def handler(service: BuildService, call: Call) -> Reply:
        app = find_app(service, call)
        return app if isinstance(app, Reply) else answer(service, call, app)

    return handler


def _on_package(answer: Callable[[BuildService, Call, SimPackage], Reply]) -> Handler:
    def handler(service: BuildService, call: Call) -> Reply:
        package = _find_package(service, call)
        return package if isinstance(package, Reply) else answer(service, call, package)

    return handler


# -- packages ------------------------------------------------------------------
@on_app
def list_packages(service: BuildService, call: Call, app: SimApp) -> Reply:
    now = service.sim_now()
    return Reply(200, [describe(p, now) for p in app.packages])


def start_build(service: BuildService, call: Call) -> Reply:
    data = call.json()
    if not isinstance(data, dict):
        return error(400, "INVALID_PARAMETERS", _MISSING_START)
    revision, version = data.get("Revision"), data.get("Version")
    branch, description = data.get("Branch"), data.get("Description", "")
    if not (isinstance(revision, str) and revision and isinstance(version, str) and version):
        return error(400, "INVALID_PARAMETERS", _MISSING_START)
    if not VERSION.fullmatch(version):
        return error(400, "INVALID_VERSION", _BAD_VERSION)
    app = find_app(service, call)
    if isinstance(app, Reply):
        return app
    if not isinstance(branch, str) or not branch:
        branch = "trunk" if app.repo == "svn" else "main"
    package = service.new_package(
        app,
        branch=branch,
        revision=revision,
        version=version,
        description=description if isinstance(description, str) else "",
        creator=service.username,
    )
    return Reply(200, {"PackageId": package.package_id})


@_on_package
def get_package(service: BuildService, call: Call, package: SimPackage) -> Reply:
    now = service.sim_now()
    described = describe(package, now)
    if call.query.get("url", "false").lower() == "true" and package.status(now) == "Succeeded":
        described["Url"] = {"Location": service.location(package), "TTL": service.url_ttl}
    return Reply(200, described)


@_on_package
def delete_package(service: BuildService, call: Call, package: SimPackage) -> Reply:
    if package.in_use or package.status(service.sim_now()) in ("Queued", "Building", "Uploading"):
        return error(409, "PACKAGE_IN_USE", "Package is still in use.")
    service.apps[call.params["app"]].packages.remove(package)
    return Reply(200, None)


@_on_package
def download(service: BuildService, call: Call, package: SimPackage) -> Reply:
    if package.status(service.sim_now()) != "Succeeded":
        return error(500, "BUILD_NOT_SUCCEEDED", "Build not successful finished.")
    return Reply(
        200,
        headers={"Content-Type": "application/octet-stream"},
        chunks=content.stream(package.seed, package.size),
        length=package.size,
    )


def describe(package: SimPackage, now: float) -> dict[str, Any]:
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


def _find_package(service: BuildService, call: Call) -> SimPackage | Reply:
    package_id = call.params["package"]
    if not package_id:
        return error(400, "INVALID_PARAMETERS", _MISSING_PACKAGE)
    app = service.apps.get(call.params["app"])
    packages = app.packages if app is not None else []
    package = next((p for p in packages if p.package_id == package_id), None)
    if package is None:
        return error(404, "PACKAGE_NOT_FOUND", "Package or build job not found.")
    return package


# -- branches ------------------------------------------------------------------
@on_app
def list_branches(service: BuildService, call: Call, app: SimApp) -> Reply:
    return Reply(200, [_branch(app, name) for name in app.branches])


@on_app
def get_branch(service: BuildService, call: Call, app: SimApp) -> Reply:
    name = call.params["branch"]
    if name not in app.branches:
        return error(404, "BRANCH_NOT_FOUND", "Branch not found.")
    return Reply(200, _branch(app, name))


def _branch(app: SimApp, name: str) -> dict[str, Any]:
    revision = app.branches[name]
    return {
        "Name": name,
        "DisplayName": "Main line" if name in ("main", "trunk") else name,
        "LatestRevisionNumber": int(revision) if app.repo == "svn" else revision,
        "LatestRevisionMendixVersion": "10.12.0.45678",
    }
