"""Put a built package on an environment: stop it, transport the package, start it.

The order matters (a running environment refuses a transport) and so does each
answer: a start is done only when its job reports ``Started``. Failures after the
build are DeployFailed (exit 7) with the API's error code and a fix; the deadline
and signals keep their own exit codes.
"""

from __future__ import annotations

from collections.abc import Callable

from ci_step import signals
from ci_step.clock import Deadline
from ci_step.config.validate import Config
from ci_step.domain.durations import format_duration
from ci_step.errors import ApiError, ConfigError, DeadlineExceeded, DeployFailed, StepError
from ci_step.flow.schedule import next_wait
from ci_step.flow.services import Services
from ci_step.mendix.deploy_api import STILL_PROCESSING, DeployApi, Environment
from ci_step.mendix.transport import Uncertain
from ci_step.report.result import StepResult


def describe(config: Config) -> str:
    """What a deploy would do, for a dry run."""
    return (
        f"deployed to {config.environment}: stop it if it runs, transport the package, start "
        f"it (AutoSyncDb {str(config.auto_sync_db).lower()}) and wait for Started"
    )


def preflight(config: Config, services: Services) -> Environment:
    """Read the environment before anything is built: a wrong name or a production
    environment without allow-production stops the step while it costs nothing."""
    environment = DeployApi(services.api).get_environment(config.app_id, config.environment)
    if environment.production and not config.allow_production:
        raise ConfigError(
            [
                f"environment '{config.environment}' is a production environment; "
                "set allow-production: true to deploy to it"
            ]
        )
    return environment


def deploy_package(config: Config, services: Services, package_id: str, result: StepResult) -> None:
    """Deploy ``package_id``; fills in the deploy outputs whatever happens."""
    result.deploy_result = "error"
    try:
        _deploy(config, services, package_id, result)
    except signals.Interrupted:
        result.deploy_result = "cancelled"
        raise
    except (ConfigError, DeadlineExceeded) as exc:
        result.deploy_result = exc.result
        raise
    except StepError as exc:
        result.deploy_result = "failure"
        raise DeployFailed(
            f"Deploying package {package_id} to {config.environment} failed: {exc.message}",
            fix=exc.fix if exc.fix != type(exc).default_fix else "",
            error_code=exc.error_code,
        ) from None
    result.deploy_result = "success"


def _deploy(config: Config, services: Services, package_id: str, result: StepResult) -> None:
    api, log, mode, app = DeployApi(services.api), services.log, config.environment, config.app_id
    environment = preflight(config, services)
    result.environment_url = environment.url
    if environment.status == "Running" and api.deployed_package_id(app, mode) == package_id:
        # A re-run: stopping and starting again would only cost the users downtime.
        log.info(
            f"Environment {mode} already runs this package; nothing to do", url=environment.url
        )
        result.deployed = True
        return
    log.info(f"Deploying to {mode}", package_id=package_id, status=environment.status)
    if environment.status == "Running":
        api.stop(app, mode)
        _wait_until_stopped(config, services, api)
        log.info(f"Environment {mode} stopped")
    _transport(config, services, api, package_id)
    log.info(f"Package transported to {mode}", package_id=package_id)
    _start(config, services, api)
    result.deployed = True
    try:  # the URL may have been set by the start; the deploy is done either way
        result.environment_url = api.get_environment(app, mode).url or environment.url
    except StepError as exc:
        log.warning("Could not read the environment's URL after the start", reason=exc.message)
    log.info(f"Environment {mode} started", url=result.environment_url or None)


def _phase_deadline(services: Services, seconds: float) -> Deadline:
    return Deadline(services.clock, min(seconds, max(0.0, services.deadline.remaining())))


def _until(done: Callable[[], bool], deadline: Deadline, config: Config, phase: str) -> None:
    """Check ``done`` on the polling schedule until it holds; ``phase``: 'stop' or 'start'."""
    while not done():
        try:
            deadline.sleep(
                next_wait(deadline.elapsed(), config.poll_interval), f"waiting to {phase}"
            )
        except DeadlineExceeded:
            raise _late(config, phase) from None


def _status(config: Config, api: DeployApi) -> str:
    return api.get_environment(config.app_id, config.environment).status


def _wait_until_stopped(config: Config, services: Services, api: DeployApi) -> None:
    deadline = _phase_deadline(services, config.stop_timeout)
    _until(lambda: _status(config, api) != "Running", deadline, config, "stop")


def _transport(config: Config, services: Services, api: DeployApi, package_id: str) -> None:
    """Transport, waiting while the platform still processes a fresh package (503)."""
    started = services.clock.now()
    while True:
        try:
            api.transport(config.app_id, config.environment, package_id)
            return
        except ApiError as exc:
            if exc.error_code != STILL_PROCESSING:
                raise
            services.log.info("The package is still being processed; transporting again soon")
        wait = next_wait(services.clock.now() - started, config.poll_interval)
        services.deadline.sleep(wait, "transporting")


def _start(config: Config, services: Services, api: DeployApi) -> None:
    deadline = _phase_deadline(services, config.start_timeout)
    job = _start_job(config, services, api, deadline)
    if job is None:
        return
    services.log.info("Start job created", job_id=job, auto_sync_db=config.auto_sync_db)
    app, mode = config.app_id, config.environment
    _until(lambda: api.start_status(app, mode, job) == "Started", deadline, config, "start")


def _start_job(
    config: Config, services: Services, api: DeployApi, deadline: Deadline
) -> str | None:
    """POST start; the job id, or None once the environment is running without one.

    After an answer that was lost (the start may have happened), asking again is safe:
    the API then says a start job exists, and the environment is watched instead.
    """
    for attempt in (1, 2):
        try:
            return api.start(config.app_id, config.environment, config.auto_sync_db)
        except Uncertain as exc:
            if attempt == 2:
                raise
            services.log.warning(
                "The start request may have reached Mendix; asking again", reason=exc.message
            )
        except ApiError as exc:
            if exc.error_code != "APP_ALREADY_HAS_A_STARTING_JOB":
                raise
            services.log.info("A start of the environment is already under way; waiting for it")
            _until(lambda: _status(config, api) == "Running", deadline, config, "start")
            return None
    raise AssertionError("unreachable")


def _late(config: Config, phase: str) -> DeadlineExceeded:
    seconds = config.stop_timeout if phase == "stop" else config.start_timeout
    return DeadlineExceeded(
        f"Environment {config.environment} did not {phase} within "
        f"{format_duration(seconds)} ({phase}-timeout, or what was left of timeout).",
        fix=f"raise {phase}-timeout or timeout; look at the environment in the Mendix Portal",
    )
