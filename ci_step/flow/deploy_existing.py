"""Deploy a package that exists: the one the package-id input names (waiting for its build
when it still runs), or the one promote-from runs. Nothing is built."""

from __future__ import annotations

from ci_step.config.validate import Config
from ci_step.errors import BuildFailed
from ci_step.flow import deploy
from ci_step.flow.build import fetch_artifact, file_version, wait_for_build
from ci_step.flow.outputs import version_output
from ci_step.flow.services import Services
from ci_step.report.result import StepResult


def run(config: Config, services: Services, result: StepResult) -> None:
    """Promote when promote-from is set, else deploy the package-id input's package."""
    if config.promote_from:
        run_promotion(config, services, result)
    else:
        run_deploy(config, services, result, config.package_id)


def run_promotion(config: Config, services: Services, result: StepResult) -> None:
    """Deploy exactly the package that promote-from runs; nothing is built."""
    result.environment = config.environment
    result.enter("preflight")
    deploy.preflight(config, services)
    held = deploy.promoted_package(config, services)
    result.package_id = held.package_id
    result.version = version_output(held.version, services.log)
    result.revision = held.built_from
    if config.dry_run:
        subject = (
            f"Package {held.package_id} (version {held.version or 'unknown'}), which "
            f"{config.promote_from} runs,"
        )
        _dry_run_deploy(config, services, result, subject)
        return
    if config.download:
        package = services.api.get_package(config.app_id, held.package_id, with_url=True)
        result.revision = result.revision or package.built_from
        fetch_artifact(config, services, package, result, file_version(package))
    deploy.deploy_package(config, services, held.package_id, result)
    result.summary = f"Promoted from {config.promote_from}: " + _deployed(result)
    result.succeed()


def _dry_run_deploy(config: Config, services: Services, result: StepResult, subject: str) -> None:
    """Say what deploying ``subject`` would do, settings included; change nothing."""
    lines = [
        "Dry run: nothing was changed.",
        f"{subject} would be {deploy.dry_run_steps(config)}.",
        *deploy.dry_run_settings(config, services),
    ]
    services.out.write("\n".join(lines) + "\n")
    result.summary = "Dry run: nothing was changed"
    result.succeed()


def run_deploy(config: Config, services: Services, result: StepResult, package_id: str) -> None:
    """Deploy an existing package (waiting for its build first when it still runs)."""
    result.environment = config.environment
    result.enter("preflight")
    deploy.preflight(config, services)
    package = services.api.get_package(config.app_id, package_id, with_url=config.download)
    result.package_id, result.status = package_id, package.status
    result.version = version_output(package.version, services.log)
    result.revision = package.built_from
    if config.dry_run:
        _dry_run_deploy(config, services, result, f"Package {package_id} ({package.status})")
        return
    if not package.terminal:
        package = wait_for_build(services, config.app_id, package_id, config.poll_interval, result)
    if package.status == "Failed":
        raise BuildFailed(f"Package {package_id} ended Failed; there is nothing to deploy.")
    if config.download:
        fetch_artifact(config, services, package, result, file_version(package))
    deploy.deploy_package(config, services, package_id, result)
    result.summary = _deployed(result)
    result.succeed()


def _deployed(result: StepResult) -> str:
    """The closing line of a deploy: what runs where now."""
    version = f" (version {result.version})" if result.version else ""
    where = f" at {result.environment_url}" if result.environment_url else ""
    return f"Package {result.package_id}{version} runs on {result.environment}{where}"
