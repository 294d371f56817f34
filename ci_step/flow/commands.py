"""The Build API calls as subcommands: each is an action run by the same runner as the step,
so every one takes the same config sources, writes the outputs it has and uses the same
exit codes."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ci_step.config.validate import Config
from ci_step.domain.packages import IN_PROGRESS, Package
from ci_step.errors import ApiError, BuildFailed
from ci_step.flow.build import fetch_artifact, file_version, start_build, wait_for_build
from ci_step.flow.outputs import version_output
from ci_step.flow.plan import make_plan
from ci_step.flow.services import Services
from ci_step.log import Log
from ci_step.report.result import StepResult
from ci_step.units import format_size

Action = Callable[[Config, Services, StepResult], None]


def api_fields(package: Package) -> dict[str, Any]:
    """A package in the API's own field names."""
    data: dict[str, Any] = {
        "PackageId": package.package_id,
        "Name": package.name,
        "Description": package.description,
        "Version": package.version,
        "CreationDate": package.creation_date,
        "Status": package.status,
        "Size": package.size,
    }
    if package.url:
        data["Url"] = {"Location": package.url, "TTL": package.url_ttl}
    return data


def _note(result: StepResult, package: Package, log: Log) -> None:
    result.package_id = package.package_id
    result.status = package.status
    result.version = version_output(package.version, log) or result.version
    result.revision = package.built_from


def start(config: Config, services: Services, result: StepResult) -> None:
    """Start a build (or take the existing one, per on-existing) and print its package id."""
    plan = make_plan(config, services)
    result.version = plan.version
    if plan.refusal is not None:
        raise plan.refusal
    result.revision = plan.delivers
    if plan.existing is not None:
        package_id = plan.existing.package_id
        result.reused = True
        result.status = plan.existing.status
        services.log.info(
            f"A package with version {plan.version} exists; not starting another",
            package_id=package_id,
            status=plan.existing.status,
        )
    else:
        package_id = start_build(plan, services)
        result.status = "Queued"
    result.package_id = package_id
    services.out.write(package_id + "\n")
    result.summary = (
        f"Took the existing package {package_id} ({result.status}); no build was started"
        if result.reused
        else f"Build of version {plan.version} started: package {package_id}"
    )
    result.succeed()


def wait(package_id: str) -> Action:
    def action(config: Config, services: Services, result: StepResult) -> None:
        result.package_id = package_id
        package = wait_for_build(services, config.app_id, package_id, config.poll_interval, result)
        _note(result, package, services.log)
        if package.status == "Failed":
            raise BuildFailed(f"Package {package_id} (version {package.version}) ended Failed.")
        result.summary = f"Package {package_id} (version {package.version}) ended Succeeded"
        result.succeed()

    return action


def download(package_id: str) -> Action:
    def action(config: Config, services: Services, result: StepResult) -> None:
        result.package_id = package_id
        # with its URL: a Succeeded package is fetched without asking again
        package = services.api.get_package(config.app_id, package_id, with_url=True)
        _note(result, package, services.log)
        if package.status != "Succeeded":
            raise ApiError(
                f"Package {package_id} is {package.status}; only a Succeeded package can be "
                "downloaded.",
                error_code="BUILD_NOT_SUCCEEDED",
                fix=f"wait for it first: mendix-build wait {package_id}",
            )
        fetch_artifact(config, services, package, result, file_version(package))
        size = format_size(result.artifact_size or 0)
        result.summary = f"Downloaded package {package_id} to {result.artifact_path} ({size})"
        result.succeed()

    return action


def show(package_id: str) -> Action:
    def action(config: Config, services: Services, result: StepResult) -> None:
        package = services.api.get_package(config.app_id, package_id)
        _note(result, package, services.log)
        services.out.write(json.dumps(api_fields(package), indent=2) + "\n")
        result.summary = f"Showed package {package_id} ({package.status})"
        result.succeed()

    return action


def listing(as_json: bool, statuses: tuple[str, ...], versions: tuple[str, ...]) -> Action:
    def action(config: Config, services: Services, result: StepResult) -> None:
        packages = [
            p
            for p in services.api.list_packages(config.app_id)
            if (not statuses or p.status in statuses) and (not versions or p.version in versions)
        ]
        packages.sort(key=lambda p: p.creation_date or 0, reverse=True)
        if as_json:
            services.out.write(json.dumps([api_fields(p) for p in packages], indent=2) + "\n")
        else:
            services.out.write(table(packages))
        result.summary = f"Listed {_count(len(packages), 'package')} of app {config.app_id}"
        result.succeed()

    return action


def table(packages: list[Package]) -> str:
    rows = [("PACKAGE ID", "VERSION", "STATUS", "CREATED (UTC)", "SIZE")]
    for p in packages:
        created = (
            datetime.fromtimestamp(p.creation_date / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")
            if p.creation_date
            else ""
        )
        size = "" if p.size is None else format_size(p.size)  # exact bytes: --json
        rows.append((p.package_id, p.version, p.status, created, size))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        + "\n"
        for row in rows
    )


def delete(package_id: str) -> Action:
    def action(config: Config, services: Services, result: StepResult) -> None:
        result.package_id = package_id
        if config.dry_run:
            services.out.write(f"Dry run: would delete package {package_id}\n")
            result.summary = f"Dry run: package {package_id} would be deleted; nothing was changed"
        else:
            services.api.delete_package(config.app_id, package_id)
            result.summary = f"Deleted package {package_id}"
        result.succeed()

    return action


def prune(keep: int) -> Action:
    def action(config: Config, services: Services, result: StepResult) -> None:
        packages = services.api.list_packages(config.app_id)
        done = sorted(
            (p for p in packages if p.status == "Succeeded"),
            key=lambda p: p.creation_date or 0,
            reverse=True,
        )
        victims = done[keep:]
        running = sum(1 for p in packages if p.status in IN_PROGRESS)
        services.log.info(
            "Pruning",
            succeeded=len(done),
            keep=keep,
            delete=len(victims),
            in_progress_untouched=running,
        )
        deleted = 0
        for package in victims:
            label = f"{package.package_id} (version {package.version})"
            if config.dry_run:
                services.out.write(f"would delete {label}\n")
                continue
            try:
                services.api.delete_package(config.app_id, package.package_id)
            except ApiError as exc:
                if exc.error_code != "PACKAGE_IN_USE":
                    raise
                services.log.warning("Kept: the package is in use", package_id=package.package_id)
                continue
            deleted += 1
            services.out.write(f"deleted {label}\n")
        result.summary = _pruned(config.dry_run, len(victims), deleted, len(done) - len(victims))
        result.succeed()

    return action


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _pruned(dry_run: bool, victims: int, deleted: int, kept: int) -> str:
    """Prune's closing line."""
    if dry_run:
        return (
            f"Dry run: {_count(victims, 'package')} would be deleted, {kept} kept; "
            "nothing was changed"
        )
    in_use = victims - deleted
    text = f"Pruned: deleted {_count(deleted, 'package')}, kept {kept}"
    return text + (f" and {in_use} in use" if in_use else "")


def deploy(config: Config, services: Services, result: StepResult) -> None:
    """`mendix-build deploy`: the package named by the argument or the package-id input."""
    from ci_step.flow import deploy_existing  # imported only for a deploy (start-up time)

    deploy_existing.run(config, services, result)
