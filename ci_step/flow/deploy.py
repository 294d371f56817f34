"""Put a built package on an environment: stop it, transport the package, start it.

The order matters (a running environment refuses a transport) and so does each
answer: a start is done only when its job reports ``Started``. Failures after the
build are DeployFailed (exit 7) with the API's error code and a fix; the deadline
and signals keep their own exit codes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from ci_step.clock import Deadline
from ci_step.config.validate import Config
from ci_step.domain.durations import format_duration
from ci_step.errors import ApiError, ConfigError, DeadlineExceeded, DeployFailed, StepError
from ci_step.flow.schedule import next_wait
from ci_step.flow.services import Services
from ci_step.mendix.deploy_api import STILL_PROCESSING, DeployApi, Environment
from ci_step.mendix.transport import Uncertain
from ci_step.report.result import StepResult
from ci_step.retry import Backoff, Tries

# A package the platform still processes: 1 s, 2 s, 4 s, ... up to poll-interval.
PROCESSING_BACKOFF = Backoff(first=1.0, jitter=False)
# A lost answer to the start request: ask once more at once (the API then says whether a
# start is under way, while the job it may have created is still running).
START_JOB_BACKOFF = Backoff(first=0.0, cap=0.0, jitter=False, tries=2)


@dataclass(frozen=True)
class Deployment:
    """What a deploy needs from the inputs, taken once."""

    app_id: str
    environment: str
    auto_sync_db: bool
    allow_production: bool
    poll_interval: float
    stop_timeout: float
    start_timeout: float

    @classmethod
    def of(cls, config: Config) -> Deployment:
        return cls(
            app_id=config.app_id,
            environment=config.environment,
            auto_sync_db=config.auto_sync_db,
            allow_production=config.allow_production,
            poll_interval=config.poll_interval,
            stop_timeout=config.stop_timeout,
            start_timeout=config.start_timeout,
        )

    def describe(self) -> str:
        """What the deploy would do, for a dry run."""
        return (
            f"deployed to {self.environment}: stop it if it runs, transport the package, start "
            f"it (AutoSyncDb {str(self.auto_sync_db).lower()}) and wait for Started"
        )


@dataclass(frozen=True)
class Phase:
    """A wait for the environment ('stop' or 'start') within its own timeout."""

    name: str
    environment: str
    seconds: float  # the phase's timeout input
    interval: float  # poll-interval
    deadline: Deadline

    def until(self, done: Callable[[], bool]) -> None:
        """Check ``done`` on the polling schedule until it holds."""
        while not done():
            wait = next_wait(self.deadline.elapsed(), self.interval)
            try:
                self.deadline.sleep(wait, f"waiting to {self.name}")
            except DeadlineExceeded:
                raise self.late() from None

    def late(self) -> DeadlineExceeded:
        return DeadlineExceeded(
            f"Environment {self.environment} did not {self.name} within "
            f"{format_duration(self.seconds)} ({self.name}-timeout, or what was left of timeout).",
            fix=f"raise {self.name}-timeout or timeout; look at the environment in the Mendix "
            "Portal",
        )


def describe(config: Config) -> str:
    """What a deploy would do, for a dry run."""
    return Deployment.of(config).describe()


def preflight(config: Config, services: Services) -> Environment:
    """Read the environment before anything is built: a wrong name or a production
    environment without allow-production stops the step while it costs nothing."""
    return _preflight(Deployment.of(config), services)


def _preflight(target: Deployment, services: Services) -> Environment:
    environment = DeployApi(services.api).get_environment(target.app_id, target.environment)
    if environment.production and not target.allow_production:
        raise ConfigError(
            [
                f"environment '{target.environment}' is a production environment; "
                "set allow-production: true to deploy to it"
            ]
        )
    return environment


def deploy_package(config: Config, services: Services, package_id: str, result: StepResult) -> None:
    """Deploy ``package_id``; fills in the deploy outputs whatever happens."""
    target = Deployment.of(config)
    result.deploy_result = "running"  # should it end otherwise, StepResult.fail names how
    try:
        _deploy(target, services, package_id, result)
    except (ConfigError, DeadlineExceeded):
        raise
    except StepError as exc:
        raise DeployFailed(
            f"Deploying package {package_id} to {target.environment} failed: {exc.message}",
            fix=exc.fix if exc.fix != type(exc).default_fix else "",
            error_code=exc.error_code,
        ) from None
    result.deploy_result = "success"


def _deploy(target: Deployment, services: Services, package_id: str, result: StepResult) -> None:
    api, log = DeployApi(services.api), services.log
    app, mode = target.app_id, target.environment
    environment = _preflight(target, services)
    result.environment_url = environment.url
    running = api.deployed_package(app, mode) if environment.status == "Running" else None
    if running is not None and running.package_id == package_id:
        # A re-run: stopping and starting again would only cost the users downtime.
        log.info(
            f"Environment {mode} already runs this package; nothing to do", url=environment.url
        )
        result.deployed = True
        return
    log.info(f"Deploying to {mode}", package_id=package_id, status=environment.status)
    if environment.status == "Running":
        api.stop(app, mode)
        _phase(target, services, "stop").until(lambda: _status(target, api) != "Running")
        log.info(f"Environment {mode} stopped")
    _transport(target, services, api, package_id)
    log.info(f"Package transported to {mode}", package_id=package_id)
    _start(target, services, api)
    result.deployed = True
    try:  # the URL may have been set by the start; the deploy is done either way
        result.environment_url = api.get_environment(app, mode).url or environment.url
    except StepError as exc:
        log.warning("Could not read the environment's URL after the start", reason=exc.message)
    log.info(f"Environment {mode} started", url=result.environment_url or None)


def _phase(target: Deployment, services: Services, name: str) -> Phase:
    seconds = target.stop_timeout if name == "stop" else target.start_timeout
    left = max(0.0, services.deadline.remaining())
    deadline = Deadline(services.clock, min(seconds, left))
    return Phase(name, target.environment, seconds, target.poll_interval, deadline)


def _status(target: Deployment, api: DeployApi) -> str:
    return api.get_environment(target.app_id, target.environment).status


def _transport(target: Deployment, services: Services, api: DeployApi, package_id: str) -> None:
    """Transport, waiting while the platform still processes a fresh package (503)."""
    tries = Tries(replace(PROCESSING_BACKOFF, cap=target.poll_interval), services.deadline)
    while True:
        try:
            api.transport(target.app_id, target.environment, package_id)
            return
        except ApiError as exc:
            if exc.error_code != STILL_PROCESSING:
                raise
            services.log.info("The package is still being processed; transporting again soon")
        tries.sleep(tries.failed() or 0.0, "transporting")


def _start(target: Deployment, services: Services, api: DeployApi) -> None:
    phase = _phase(target, services, "start")
    job = _start_job(target, services, api, phase)
    if job is None:
        return
    services.log.info("Start job created", job_id=job, auto_sync_db=target.auto_sync_db)
    app, mode = target.app_id, target.environment
    phase.until(lambda: api.start_status(app, mode, job) == "Started")


def _start_job(target: Deployment, services: Services, api: DeployApi, phase: Phase) -> str | None:
    """POST start; the job id, or None once the environment is running without one.

    After an answer that was lost (the start may have happened), asking again is safe:
    the API then says a start job exists, and the environment is watched instead.
    """
    tries = Tries(START_JOB_BACKOFF, services.deadline)
    while True:
        try:
            return api.start(target.app_id, target.environment, target.auto_sync_db)
        except Uncertain as exc:
            wait = tries.failed()
            if wait is None:
                raise
            services.log.warning(
                "The start request may have reached Mendix; asking again", reason=exc.message
            )
            tries.sleep(wait, "starting")
        except ApiError as exc:
            if exc.error_code != "APP_ALREADY_HAS_A_STARTING_JOB":
                raise
            services.log.info("A start of the environment is already under way; waiting for it")
            phase.until(lambda: _status(target, api) == "Running")
            return None
