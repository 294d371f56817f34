"""What a run will do: the revision and version resolved, and any package to reuse."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ci_step.config.validate import Config
from ci_step.domain.packages import (
    Package,
    choose_existing,
    next_version,
    refuse_other_revision,
)
from ci_step.domain.provenance import with_revision
from ci_step.domain.versions import AUTO_VERSIONS, LATEST, is_revision
from ci_step.errors import ApiError
from ci_step.flow.services import Services


@dataclass(frozen=True)
class Plan:
    app_id: str
    branch: str
    revision: str
    version: str
    description: str
    existing: Package | None = None  # reuse it (Succeeded) or wait for it (in progress)
    # the ids of the packages with this version when the plan was made (None: not listed)
    known: frozenset[str] | None = None
    # why ``existing`` must not be reused: it was built from another revision
    refusal: ApiError | None = None

    @property
    def delivers(self) -> str:
        """The revision of the package the run delivers: the one it builds, or the one the
        package it reuses was built from ('' when its texts do not tell)."""
        return self.revision if self.existing is None else self.existing.built_from

    def body(self) -> dict[str, str]:
        """The start request's JSON body."""
        return {
            "Branch": self.branch,
            "Revision": self.revision,
            "Version": self.version,
            "Description": self.description,
        }


def resolve_revision(config: Config, services: Services) -> str:
    if config.revision != LATEST:
        return config.revision
    if services.repository is not None:
        revision = services.repository.latest_commit(config.project_id, config.branch)
        source = "App Repository API"
    else:
        revision = services.api.latest_revision(config.app_id, config.branch)
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
    existing, known = None, None
    if packages is not None:
        known = frozenset(p.package_id for p in packages if p.version == version)
        if not auto:
            existing = choose_existing(packages, version, config.on_existing, revision)
    description = with_revision(config.description, revision)
    plan = Plan(config.app_id, config.branch, revision, version, description, existing, known)
    if existing is None:
        return plan
    refusal = refuse_other_revision(existing, revision)
    if refusal is None and not existing.built_from:
        services.log.warning(
            f"The revision package {existing.package_id} was built from could not be "
            f"determined (neither its Name nor its Description names one); it is taken for "
            f"revision {revision} unchecked, and the revision output stays empty",
            package_id=existing.package_id,
        )
    return replace(plan, refusal=refusal)
