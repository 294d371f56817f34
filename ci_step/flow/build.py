"""The build step itself: start -> poll -> download, filling in the result as it goes."""

from __future__ import annotations

import json
from collections.abc import Callable

from ci_step.clock import Clock, Deadline
from ci_step.config.parsers import shown
from ci_step.config.validate import Config
from ci_step.domain.packages import Package
from ci_step.domain.versions import release_of
from ci_step.errors import ApiError, ApiUnavailable, BuildFailed, DeadlineExceeded, input_name
from ci_step.flow.plan import Plan, make_plan
from ci_step.flow.poll import Poll, poll
from ci_step.flow.services import Services
from ci_step.log import Log
from ci_step.mendix import download
from ci_step.mendix.build_api import BuildApi
from ci_step.mendix.transport import Uncertain
from ci_step.report.result import StepResult
from ci_step.retry import Backoff, Tries
from ci_step.units import Bytes, Seconds, format_duration

# After an ambiguous failure: look, wait, look again, post again, as the deadline allows.
START_BACKOFF = Backoff(first=1.0, cap=30.0, jitter=True)


def run_build(config: Config, services: Services, result: StepResult) -> None:
    """The default step: plan, then reuse or start, wait, download; deploy when asked."""

    if config.promote_from or config.package_id:
        from ci_step.flow import deploy_existing  # imported only for a deploy (start-up time)

        deploy_existing.run(config, services, result)
        return
    log = services.log
    if config.environment:
        from ci_step.flow import deploy  # imported only for a deploy (start-up time)

        result.environment = config.environment
        result.enter("preflight")
        deploy.preflight(config, services)
    result.enter("plan")
    plan = make_plan(config, services)
    result.version = plan.version
    if config.dry_run:
        print_dry_run(plan, config, services)
        if plan.refusal is not None:
            raise plan.refusal
        result.revision = plan.delivers
        if plan.existing is not None:
            result.package_id, result.status = plan.existing.package_id, plan.existing.status
            result.reused = True
        result.summary = "Dry run: nothing was started or changed"
        result.succeed()
        return
    if plan.refusal is not None:
        raise plan.refusal
    result.revision = plan.delivers
    if plan.existing is not None:
        package_id = plan.existing.package_id
        result.reused = True
        verb = "Reusing" if plan.existing.status == "Succeeded" else "Attaching to"
        log.info(
            f"{verb} the existing package with version {plan.version}",
            package_id=package_id,
            status=plan.existing.status,
            revision=plan.delivers or "unknown",
        )
    else:
        log.info(
            "Starting build",
            app=plan.app_id,
            branch=plan.branch,
            revision=plan.revision,
            version=plan.version,
        )
        result.enter("build")
        package_id = start_build(plan, services)
        log.info("Build started", package_id=package_id)
    result.package_id = package_id
    package = wait_for_build(services, config.app_id, package_id, config.poll_interval, result)
    if package.status == "Failed":
        raise BuildFailed(
            f"The Mendix build of version {plan.version} (revision {plan.delivers or 'unknown'}"
            f" on {plan.branch}) ended Failed; package {package_id}."
        )
    if config.download:
        fetch_artifact(config, services, package, result, plan.version)
    else:
        log.info("Download skipped (download: false)")
    if config.environment:
        from ci_step.flow import deploy

        deploy.deploy_package(config, services, package_id, result)
    result.succeed()


def print_dry_run(plan: Plan, config: Config, services: Services) -> None:
    lines = ["Dry run: nothing was started."]
    if plan.existing is not None:
        lines.append(
            f"A package with version {plan.version} exists ({plan.existing.package_id}, "
            f"{plan.existing.status}); on-existing: {config.on_existing} would "
            + _would_reuse(plan.existing, plan.refusal)
        )
    else:
        lines += [
            "The request would be:",
            f"POST {config.base_url}/api/1/apps/{plan.app_id}/packages",
            f"Mendix-Username: {config.username}",
            "Mendix-ApiKey: ***",
            "Content-Type: application/json",
            "",
            json.dumps(plan.body(), indent=2),
        ]
    if config.environment:
        from ci_step.flow import deploy

        lines.append(f"Then the package would be {deploy.dry_run_steps(config)}.")
        lines += deploy.dry_run_settings(config, services)
    services.out.write("\n".join(lines) + "\n")
    services.out.flush()


def _would_reuse(existing: Package, refusal: ApiError | None) -> str:
    """The dry run's word on the package with the version: reuse it, or refuse it and why."""
    if refusal is not None:
        return f"refuse it: {refusal.message}"
    if existing.built_from:
        return f"reuse it (built from revision {existing.built_from})."
    return "reuse it; the revision it was built from could not be determined."


def start_build(plan: Plan, services: Services) -> str:
    """POST the build; after an ambiguous failure, look for it before posting again.

    The build a lost answer started is the package with the version that the list
    taken before the first POST did not hold: no clock of either side is trusted. When
    none is listed, the step waits (backoff), looks once more (a server may list a build
    late) and only then posts again; until the next wait would pass the deadline.
    """
    api, deadline = services.api, services.deadline
    known = plan.known
    if known is None:  # the plan did not list the packages
        known = frozenset(
            p.package_id for p in api.list_packages(plan.app_id) if p.version == plan.version
        )

    def started() -> str | None:
        package_id = find_started(api, plan, known)
        if package_id is not None:
            services.log.info("Found the build started by that request", package_id=package_id)
        return package_id

    tries = Tries(START_BACKOFF, deadline, api.transport.rng)
    while True:
        try:
            return api.start_build(
                plan.app_id, plan.branch, plan.revision, plan.version, plan.description
            )
        except Uncertain as exc:
            services.log.warning(
                "The start request failed after it may have reached Mendix; "
                "looking for the build it may have started",
                reason=exc.message,
            )
            if (package_id := started()) is not None:
                return package_id
            wait = tries.failed()
            if wait is None or not tries.fits(wait):
                raise ApiUnavailable(
                    f"{exc.message} No build with version {plan.version} appeared, and "
                    "waiting for another try would pass the timeout."
                ) from None
            services.log.info(
                "No new build with this version is listed; looking again before a new start",
                wait=Seconds(wait),
            )
            tries.sleep(wait, "starting the build")
            if (package_id := started()) is not None:
                return package_id


def find_started(api: BuildApi, plan: Plan, known: frozenset[str]) -> str | None:
    """The package with the plan's version that is not one of ``known``, if any."""
    for package in api.list_packages(plan.app_id):
        if package.version == plan.version and package.package_id not in known:
            return package.package_id
    return None


def wait_for_build(
    services: Services, app_id: str, package_id: str, poll_interval: float, result: StepResult
) -> Package:
    """Poll the package on the polling schedule until its build ends (or the deadline)."""
    clock, deadline = services.clock, services.deadline
    log = services.log.bind(package_id=package_id)  # every status line names the package
    result.on_mendix = f"the build of package {package_id} keeps running on the Mendix side"
    result.enter("build")
    started = clock.now()

    def changed(_package: Package, status: str) -> bool:
        result.status = status
        log.info(f"Build status: {status}", after=Seconds(clock.now() - started))
        return True

    def late(status: str) -> DeadlineExceeded:
        return _timed_out(deadline, package_id, status)

    build = Poll(
        lambda: services.api.get_package(app_id, package_id),
        lambda package: package.status,
        changed,
        lambda package: package.terminal,
    )
    what = f"the build of package {package_id}"
    package = poll(build, deadline, services.log, what, poll_interval, late)
    result.on_mendix = ""
    return package


def _timed_out(deadline: Deadline, package_id: str, status: str) -> DeadlineExceeded:
    return DeadlineExceeded(
        f"The timeout of {format_duration(deadline.seconds)} passed while package {package_id} "
        f"was {status or 'not yet reported'}; the build goes on at Mendix."
    )


def file_version(package: Package) -> str:
    """The version a package's file is named after when the step asked for none: its
    Version when that is major.minor.patch (a fourth number dropped), never anything else."""
    version = release_of(package.version)
    if version is None:
        raise ApiError(
            f"The Mendix API gave package {package.package_id} the version "
            f"{shown(package.version)}, not major.minor.patch; the file is not named after it.",
            fix=f"check {input_name('base-url')}: the Mendix API gives every package a "
            "major.minor.patch Version",
        )
    return version


def fetch_artifact(
    config: Config, services: Services, package: Package, result: StepResult, version: str
) -> None:
    """Download ``package`` as ``<app-id>-<version>.mda`` (unless artifact-path names the
    file): ``version`` is the checked one the step asked for, never the answer's text.
    A ``package`` read with its URL is fetched from that URL; else the API is asked for it."""
    api, log = services.api, services.log
    result.enter("download")

    def location(answer: Package | None = None) -> str:
        fresh = answer or api.get_package(config.app_id, package.package_id, with_url=True)
        if not fresh.url:
            raise ApiError(
                f"The Mendix API gave no download location for package {package.package_id}."
            )
        return download.check_location(fresh.url, download.PACKAGE_LOCATION, api.base_url)

    url = location(package if package.url else None)
    size = package.size if package.size and package.size > 0 else None
    target = config.artifact_for(version)
    log.info(
        "Downloading package",
        path=config.shown_path(target),
        size=None if size is None else Bytes(size),
    )
    storage = download.Storage(
        services.storage,
        services.deadline,
        refresh=location,
        progress=_progress_logger(log, services.clock),
        notice=log.warning,
        api_root=api.base_url,
    )
    artifact = download.fetch(storage, url, target, size, config.workspace)
    result.artifact_path = config.shown_path(artifact.path)
    result.artifact_sha256 = artifact.sha256
    result.artifact_size = artifact.size
    log.info(
        "Package downloaded",
        path=result.artifact_path,
        size=Bytes(artifact.size),
        sha256=artifact.sha256,
    )


def _progress_logger(log: Log, clock: Clock) -> Callable[[int, int | None], None]:
    state = {"percent": 0, "at": clock.now()}

    def progress(done: int, total: int | None) -> None:
        now = clock.now()
        percent = done * 100 // total if total else 0
        if (total and percent >= state["percent"] + 10) or now - state["at"] >= 10:
            state["percent"] = percent - percent % 10
            state["at"] = now
            log.info("Download progress", done=Bytes(done), percent=percent if total else None)

    return progress
