"""The simulated Deploy API v1: an app's environments, stop, transport, start and its job.

Follows Mendix's Deploy API v1 reference: ``Status`` ``Empty``/``Stopped``/``Running``,
transport only onto a stopped environment, the transient 503 while a new package is
still being processed, a start job that reports ``Starting`` and then ``Started`` or
answers 500 with the reason (``DB_SYNC_FAILED``, ``MISSING_CONSTANT``, ...).
Behaviours a test wants to provoke are fields of :class:`SimEnvironment`. deploy_api.py
routes the endpoints here; ``data`` is a request's body as JSON (None if it is not).

Each environment also has the settings of the model it runs (settings.py), a log of what
happened (logs.py), its snapshots and the restores onto it (backup_jobs.py), and a
database, modelled as the model version it was last synchronised to: a start with
``AutoSyncDb`` synchronises it to the deployed model (``DB_SYNC_FAILED`` leaves it part-way,
``"<version> (part-way)"``), a completed restore puts a snapshot's back.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from ci_step.simulator import settings
from ci_step.simulator.backup_jobs import SimRestore, SimSnapshot
from ci_step.simulator.faults import parse_settings
from ci_step.simulator.logs import LogEvent, start_failure
from ci_step.simulator.packages import MODEL_CONSTANTS, MODEL_EVENTS, SimPackage
from ci_step.simulator.reply import Reply, error
from ci_step.simulator.settings import Setting
from ci_step.simulator.unit_tests import UnitTesting

STANDARD_MODES = ("Test", "Acceptance", "Production")
START_ERRORS = {
    "DB_SYNC_FAILED": "Cannot start app. Synchronization of database failed.",
    "MISSING_CONSTANT": "Cannot start app. Missing one or more constant values.",
    "STARTUP_ACTION_FAILED": "Cannot start app. Startup action failed.",
    "START_FAILED": "Cannot start app: result (detail status)",
    "INSECURE_ADMIN_PASSWORD": (
        "Cannot start app. There is a user with administrator role with password '1'. "
        "This is not allowed."
    ),
}
TRANSPORT_ERRORS = {
    "INVALID_RUNTIME_VERSION": (400, "This Runtime version is not supported on this environment."),
    "TRANSPORT_NOT_ALLOWED": (403, "No access to transport to environment '{mode}'."),
    "PACKAGE_PARSE_FAILED": (500, "Failed to parse deployment package file."),
}
DEPLOY_ERRORS = (*START_ERRORS, *TRANSPORT_ERRORS, "STOP_FAILED")


@dataclass(frozen=True)
class DeployError:
    """A failure every environment answers: a start, transport or stop error ``code`` (one
    of DEPLOY_ERRORS), for the next ``times`` starts, transports or stops (-1: all)."""

    code: str = ""
    times: int = -1


def parse_deploy_error(spec: str) -> DeployError:
    """``CODE[:times=N]``, as ``--fault`` takes its settings: ``DB_SYNC_FAILED:times=1``."""
    code, _, rest = spec.partition(":")
    if code not in DEPLOY_ERRORS:
        raise ValueError(
            f"unknown deploy error {code!r}; expected CODE[:times=N], CODE one of "
            + ", ".join(DEPLOY_ERRORS)
        )
    failure = DeployError(code, **parse_settings(rest, {"times": int}, "deploy error"))
    if failure.times < 1 and failure.times != -1:
        raise ValueError(f"{spec!r}: times is how many fail, at least 1 (-1: every one)")
    return failure


@dataclass
class StartJob:
    job_id: str
    ends_at: float
    fails_with: str = ""
    settled: bool = False
    auto_sync: bool = False
    missing: list[str] = field(default_factory=list)  # constants with no value


def _default_settings() -> tuple[dict[str, Setting], dict[str, Setting]]:
    return settings.of_model(MODEL_CONSTANTS, MODEL_EVENTS)


@dataclass
class SimEnvironment:
    mode: str
    status: str = "Running"  # Empty, Stopped or Running
    production: bool = False
    url: str = ""
    model_version: str = "1.0.0.1"
    mendix_version: str = "10.12.0"
    environment_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    package_id: str = ""
    # behaviours to provoke
    processing: int = 0  # transports answered 503 "still being processed" first
    transport_error: str = ""  # one of TRANSPORT_ERRORS
    transport_error_times: int = -1  # how many transports answer it (-1: every one)
    start_error: str = ""  # one of START_ERRORS: the start job ends with it
    start_error_times: int = -1  # how many starts end with start_error (-1: every one)
    hung_starts: int = 0  # how many of the next starts never end (until a stop)
    stop_error: bool = False  # stop answers 500 STOP_FAILED
    stop_error_times: int = -1  # how many stops answer it (-1: every one)
    start_seconds: float = 2.0  # simulated seconds a start job stays Starting
    stop_seconds: float = 0.0  # simulated seconds a stop takes to show as Stopped
    stopping_until: float = 0.0
    jobs: dict[str, StartJob] = field(default_factory=dict)
    # the deployed model's settings, the database, the log and backups
    constants: dict[str, Setting] = field(default_factory=lambda: _default_settings()[0])
    scheduled_events: dict[str, Setting] = field(default_factory=lambda: _default_settings()[1])
    database: str = ""  # the model version the database is synchronised to ("": none)
    log_events: list[LogEvent] = field(default_factory=list)
    log_tail: list[str] = field(default_factory=list)  # raw lines at the end of every log
    log_lines: int = 200  # filler lines of a day's log
    log_days: int = 7  # days back (today included) that have a log
    logs_forbidden: bool = False  # logs answer 403 FORBIDDEN
    snapshots: list[SimSnapshot] = field(default_factory=list)
    restores: list[SimRestore] = field(default_factory=list)
    snapshot_fails: bool = False  # snapshots end failed
    restore_fails: bool = False  # restores end failed
    unit_testing: UnitTesting = field(default_factory=UnitTesting)  # served at the app's URL

    def __post_init__(self) -> None:
        if not self.database and self.status != "Empty":
            self.database = self.model_version

    def current_status(self, now: float) -> str:
        for job in self.jobs.values():
            if not job.settled and now >= job.ends_at:
                self._settle(job)
        for restore in self.restores:
            if not restore.applied and restore.state(now) == "completed":
                restore.applied = True
                self.database = restore.source.database
        if self.status == "Stopping":
            if now < self.stopping_until:
                return "Running"
            self.status = "Stopped"
            stopped = LogEvent(self.stopping_until, "INFO", "Core", "Runtime stopped.")
            self.log_events.append(stopped)
        return self.status

    def _settle(self, job: StartJob) -> None:
        job.settled = True
        synced = job.fails_with not in ("MISSING_CONSTANT", "INVALID_DB_STRUCTURE")
        if job.auto_sync and synced:
            part_way = job.fails_with == "DB_SYNC_FAILED"
            self.database = f"{self.model_version} (part-way)" if part_way else self.model_version
        if job.fails_with:
            text = START_ERRORS.get(job.fails_with, _OUT_OF_SYNC)
            self.log_events += start_failure(job.ends_at, job.fails_with, text, job.missing)
            return
        self.status = "Running"
        settings.deploy(self.constants, self.scheduled_events)
        self.log_events.append(
            LogEvent(job.ends_at, "INFO", "Core", "Mendix Runtime successfully started.")
        )

    def busy(self, now: float) -> bool:
        """A snapshot or a restore is queued or running on the environment."""
        jobs: list[SimSnapshot | SimRestore] = [*self.snapshots, *self.restores]
        return any(job.busy(now) for job in jobs)

    def describe(self, now: float) -> dict[str, Any]:
        return {
            "Status": self.current_status(now),
            "EnvironmentId": self.environment_id,
            "Mode": self.mode,
            "Url": self.url,
            "ModelVersion": self.model_version,
            "MendixVersion": self.mendix_version,
            "Production": self.production,
        }


_OUT_OF_SYNC = (
    "Cannot start app. The database is out-of-sync with the model. Please set "
    "AutoSyncDb parameter to true to synchronize the database automatically on startup."
)


def default_environments(app_id: str) -> dict[str, SimEnvironment]:
    suffix = {"Test": "-test", "Acceptance": "-accp", "Production": ""}
    return {
        mode: SimEnvironment(
            mode,
            production=mode == "Production",
            url=f"https://{app_id}{suffix[mode]}.mendixcloud.example",
        )
        for mode in STANDARD_MODES
    }


def misbehave(
    environment: SimEnvironment,
    *,
    failure: DeployError | None = None,
    processing: int = 0,
    start_seconds: float,
) -> None:
    """Make an environment answer as asked: ``failure`` is a start, transport or stop
    failure; ``processing`` transports are answered 503 first."""
    code, times = (failure.code, failure.times) if failure else ("", -1)
    if code in START_ERRORS:
        environment.start_error, environment.start_error_times = code, times
    elif code in TRANSPORT_ERRORS:
        environment.transport_error, environment.transport_error_times = code, times
    elif code == "STOP_FAILED":
        environment.stop_error, environment.stop_error_times = True, times
    environment.processing = processing
    environment.start_seconds = start_seconds


def _now_fails(times: int) -> tuple[bool, int]:
    """Whether a failure set for ``times`` more calls (-1: every one) happens on this call,
    and how many calls it is then set for."""
    if times == 0:
        return False, 0
    return True, times - 1 if times > 0 else -1


def find(environments: dict[str, SimEnvironment], mode: str) -> SimEnvironment | None:
    """Standard modes match in any case (the reference writes 'acceptance' too)."""
    if mode in environments:
        return environments[mode]
    for name, environment in environments.items():
        if name in STANDARD_MODES and name.lower() == mode.lower():
            return environment
    return None


def deployed_package(environment: SimEnvironment, packages: list[SimPackage], now: float) -> Reply:
    package = next((p for p in packages if p.package_id == environment.package_id), None)
    if package is None:
        return error(404, "PACKAGE_NOT_FOUND", "No package found for this environment")
    return Reply(
        200,
        {
            "PackageId": package.package_id,
            "Name": package.name,
            "Description": package.description,
            "Version": f"{package.version}.{package.revision}",
            "Creator": package.creator,
            "CreationDate": package.creation_ms,
            "ExpiryDate": None,
            "Status": package.status(now),
            "Size": package.size,
        },
    )


def stop(environment: SimEnvironment, now: float) -> Reply:
    if environment.stop_error:
        fails, environment.stop_error_times = _now_fails(environment.stop_error_times)
        if fails:
            return error(500, "STOP_FAILED", "Cannot stop app: the runtime did not respond.")
    if environment.current_status(now) == "Running":
        environment.status = "Stopping"
        environment.stopping_until = now + environment.stop_seconds
        environment.unit_testing.restart()  # the app's memory goes with it
    for job in environment.jobs.values():
        # A stop ends a start still under way (*unverified*: the reference does not say;
        # the job then reports the start as failed).
        if not job.settled:
            job.settled, job.fails_with = True, "START_FAILED"
    return Reply(200, None)


def transport(
    environment: SimEnvironment, packages: list[SimPackage], data: object, now: float
) -> Reply:
    package_id = data.get("PackageId") if isinstance(data, dict) else None
    if not isinstance(package_id, str) or not package_id:
        return error(
            400, "INVALID_PARAMETERS", "Not enough parameters given. Please set PackageId."
        )
    package = next((p for p in packages if p.package_id == package_id), None)
    if package is None:
        return error(404, "PACKAGE_NOT_FOUND", "Package not found.")
    if package.status(now) != "Succeeded":
        return error(
            403,
            "NOT ALLOWED",
            "Cannot transport - MDA processing failed, try uploading again with a valid MDA.",
        )
    if environment.current_status(now) == "Running":
        return error(
            403,
            "APP_IS_RUNNING",
            f"The '{environment.mode}' environment must be stopped to do transport.",
        )
    if environment.transport_error:
        fails, environment.transport_error_times = _now_fails(environment.transport_error_times)
        if fails:
            status, text = TRANSPORT_ERRORS[environment.transport_error]
            return error(status, environment.transport_error, text.format(mode=environment.mode))
    if environment.processing > 0:
        environment.processing -= 1
        return error(
            503,
            "SERVICE UNAVAILABLE",
            "Cannot transport - MDA is still being processed, retry later",
        )
    environment.package_id = package.package_id
    environment.model_version = f"{package.version}.{package.revision}"
    environment.status = "Stopped"
    environment.constants = settings.carry(environment.constants, package.constants)
    environment.scheduled_events = settings.carry_events(
        environment.scheduled_events, package.scheduled_events
    )
    return Reply(200, None)


def start(environment: SimEnvironment, data: object, now: float) -> Reply:
    auto_sync = data.get("AutoSyncDb") if isinstance(data, dict) else None
    if environment.current_status(now) == "Running":
        return error(200, "ALREADY_STARTED", "Cannot start app. App is already running.")
    if not environment.package_id and environment.status == "Empty":
        return error(500, "NO_MDA_HAS_BEEN_DEPLOYED", "Cannot start app. There is no MDA deployed.")
    if any(not job.settled for job in environment.jobs.values()):
        return error(
            500,
            "APP_ALREADY_HAS_A_STARTING_JOB",
            "Cannot start app. There is already a starting job id found.",
        )
    missing = settings.missing(environment.constants)
    fails_with = "MISSING_CONSTANT" if missing else _start_error(environment)
    out_of_sync = environment.database != environment.model_version
    if not fails_with and auto_sync is not True and environment.package_id and out_of_sync:
        # *unverified*: a new model started without AutoSyncDb fails this way
        fails_with = "INVALID_DB_STRUCTURE"
    seconds = environment.start_seconds
    if environment.hung_starts > 0:
        environment.hung_starts -= 1
        seconds = float("inf")
    job = StartJob(
        str(uuid.uuid4()),
        now + seconds,
        fails_with,
        auto_sync=auto_sync is True,
        missing=missing,
    )
    environment.jobs[job.job_id] = job
    environment.log_events.append(LogEvent(now, "INFO", "Core", "Starting the Mendix Runtime."))
    return Reply(200, {"JobId": job.job_id})


def _start_error(environment: SimEnvironment) -> str:
    """The error this start ends with, counting down ``start_error_times``."""
    if not environment.start_error:
        return ""
    fails, environment.start_error_times = _now_fails(environment.start_error_times)
    return environment.start_error if fails else ""


def job(environment: SimEnvironment, job_id: str, now: float) -> Reply:
    job = environment.jobs.get(job_id)
    if job is None:
        return error(404, "NO_SUCH_STARTJOB", "Job not found.")
    environment.current_status(now)
    if not job.settled:
        return Reply(200, {"Status": "Starting"})
    if job.fails_with:
        return error(500, job.fails_with, START_ERRORS.get(job.fails_with, _OUT_OF_SYNC))
    return Reply(200, {"Status": "Started"})
