"""What a run will do: the revision and version resolved, and any package to reuse."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ci_step.config.validate import AUTO_VERSIONS, LATEST, Config, is_revision, parse_version
from ci_step.errors import ApiError
from ci_step.mendix.build_api import IN_PROGRESS, Package

if TYPE_CHECKING:
    from ci_step.flow.build import Services


@dataclass(frozen=True)
class Plan:
    app_id: str
    branch: str
    revision: str
    version: str
    description: str
    existing: Package | None = None  # reuse it (Succeeded) or wait for it (in progress)

    def body(self) -> dict[str, str]:
        """The start request's JSON body."""
        return {
            "Branch": self.branch,
            "Revision": self.revision,
            "Version": self.version,
            "Description": self.description,
        }


def next_version(packages: list[Package], mode: str) -> str:
    """The next version above the highest major.minor.patch among ``packages``."""
    versions = [v for v in (parse_version(p.version) for p in packages) if v is not None]
    if not versions:
        return "1.0.0"
    major, minor, patch = max(versions)
    if mode == "auto-major":
        return f"{major + 1}.0.0"
    if mode == "auto-minor":
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{patch + 1}"


def choose_existing(packages: list[Package], version: str, on_existing: str) -> Package | None:
    """The package to reuse or attach to, per ``on-existing``; None: build."""
    same = sorted(
        (p for p in packages if p.version == version),
        key=lambda p: p.creation_date or 0,
        reverse=True,
    )
    if not same or on_existing == "rebuild":
        return None
    if on_existing == "fail":
        listed = ", ".join(f"{p.package_id} ({p.status})" for p in same)
        raise ApiError(
            f"A package with version {version} already exists: {listed}.",
            error_code="VERSION_EXISTS",
            fix="choose another version (or version: auto), or set on-existing to reuse or rebuild",
        )
    for wanted in ({"Succeeded"}, IN_PROGRESS):
        found = next((p for p in same if p.status in wanted), None)
        if found is not None:
            return found
    return None  # only Failed ones: build it again


def resolve_revision(config: Config, services: Services) -> str:
    if config.revision != LATEST:
        return config.revision
    if services.repository is not None:
        revision = services.repository.latest_commit(config.project_id, config.branch)
        source = "App Repository API"
    else:
        revision = services.api.get_branch(config.app_id, config.branch).latest_revision
        source = "Team Server API"
    if not is_revision(revision):
        raise ApiError(f"The {source} named an unusable latest revision for {config.branch}.")
    services.log.info(
        "Resolved revision 'latest'", branch=config.branch, revision=revision, source=source
    )
    return revision


def make_plan(config: Config, services: Services) -> Plan:
    revision = resolve_revision(config, services)
    auto = config.version in AUTO_VERSIONS
    packages: list[Package] | None = None
    if auto or config.on_existing != "rebuild" or config.dry_run:
        packages = services.api.list_packages(config.app_id)
    version = config.version
    if auto:
        version = next_version(packages or [], config.version)
        services.log.info(f"Version {config.version}: {version}")
    existing = None
    if packages is not None and not auto:
        existing = choose_existing(packages, version, config.on_existing)
    return Plan(config.app_id, config.branch, revision, version, config.description, existing)
