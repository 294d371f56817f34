"""What is done to one environment: stop it, transport a package, start it, say its state.

Each wait runs on the polling schedule within its own timeout (stop-timeout,
start-timeout) and what is left of the step's deadline. A start ends only when its job
reports ``Started`` or fails with an error code; a lost answer to the start request is
never answered with a second start while one is under way. A start whose wait ran out
goes on at Mendix: its job is kept, and the state reported afterwards says it is under
way rather than calling the environment stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from ci_step.clock import Deadline
from ci_step.errors import ApiError, DeadlineExceeded, StepError, input_name
from ci_step.flow.heartbeat import Heartbeat
from ci_step.flow.schedule import next_wait
from ci_step.flow.services import Services
from ci_step.log import Log
from ci_step.mendix.deploy_api import START_FAILURES, STILL_PROCESSING, DeployApi, DeployedPackage
from ci_step.mendix.transport import Uncertain
from ci_step.retry import Backoff, Tries
from ci_step.units import format_duration

# A package the platform still processes: 1 s, 2 s, 4 s, ... up to poll-interval.
PROCESSING_BACKOFF = Backoff(first=1.0, jitter=False)
STARTING_JOB = "APP_ALREADY_HAS_A_STARTING_JOB"


@dataclass(frozen=True)
class Phase:
    """A wait for the environment ('stop' or 'start') within its own timeout."""

    name: str
    environment: str
    seconds: float  # the phase's timeout input, or what was left of timeout
    interval: float  # poll-interval
    deadline: Deadline
    log: Log
    own_timeout: bool = True  # bound by {name}-timeout too, not only by timeout

    def until(self, status: Callable[[], str], done: Callable[[str], bool]) -> None:
        """Read ``status`` on the polling schedule until ``done`` holds for it; a heartbeat
        in the log while it takes long."""
        heartbeat = Heartbeat(
            self.deadline.clock, self.log, f"environment {self.environment} to {self.name}"
        )
        while not done(current := status()):
            wait = self.next_check()
            heartbeat.beat(current, wait)
            self.pause(wait)

    def next_check(self) -> float:
        return next_wait(self.deadline.elapsed(), self.interval)

    def pause(self, wait: float | None = None) -> None:
        """Wait until the next check, or end the phase when its time is up."""
        wait = self.next_check() if wait is None else wait
        try:
            self.deadline.sleep(wait, f"waiting to {self.name}")
        except DeadlineExceeded:
            raise self.late() from None

    def late(self) -> DeadlineExceeded:
        own, step = input_name(f"{self.name}-timeout"), input_name("timeout")
        if not self.own_timeout:
            return DeadlineExceeded(
                f"Environment {self.environment} did not {self.name} within what was left "
                f"of {step} ({format_duration(self.seconds)}).",
                fix=f"raise {step}; look at the environment in the Mendix Portal",
            )
        return DeadlineExceeded(
            f"Environment {self.environment} did not {self.name} within "
            f"{format_duration(self.seconds)} ({own}, or what was left of {step}).",
            fix=f"raise {own} or {step}; look at the environment in the Mendix Portal",
        )


@dataclass(frozen=True)
class Timing:
    """How long each wait on an environment may take, and how often it is checked."""

    poll_interval: float
    stop_timeout: float
    start_timeout: float


class Environment:
    """One environment of one app, as the deploy acts on it."""

    def __init__(self, services: Services, app_id: str, mode: str, timing: Timing) -> None:
        self.api = DeployApi(services.api)
        self.services = services
        self.app_id = app_id
        self.mode = mode
        self.timing = timing
        self.transported = ""  # the package this step last transported here
        self.starting = ""  # the JobId of a start asked for whose end was not seen

    def status(self) -> str:
        return self.api.get_environment(self.app_id, self.mode).status

    def phase(self, name: str, reserve: float = 0.0, own_timeout: bool = True) -> Phase:
        """The wait ``name`` within its timeout (unless not ``own_timeout``) and the step's
        deadline less ``reserve``."""
        left = max(0.0, self.services.deadline.remaining() - reserve)
        seconds = self.timing.stop_timeout if name == "stop" else self.timing.start_timeout
        seconds = seconds if own_timeout else left
        deadline = Deadline(self.services.clock, min(seconds, left))
        interval = self.timing.poll_interval
        log = self.services.log
        return Phase(name, self.mode, seconds, interval, deadline, log, own_timeout)

    def stop(self) -> None:
        """Stop it and wait until it no longer runs."""
        self.api.stop(self.app_id, self.mode)
        self.phase("stop").until(self.status, lambda status: status != "Running")
        self.starting = ""  # a stop ends a start still under way
        self.services.log.info(f"Environment {self.mode} stopped")

    def transport(self, package_id: str) -> None:
        """Transport, waiting while the platform still processes a fresh package (503)."""
        backoff = replace(PROCESSING_BACKOFF, cap=self.timing.poll_interval)
        tries = Tries(backoff, self.services.deadline)
        while True:
            try:
                self.api.transport(self.app_id, self.mode, package_id)
                break
            except ApiError as exc:
                if exc.error_code != STILL_PROCESSING:
                    raise
                self.services.log.info(
                    "The package is still being processed; transporting again soon"
                )
            tries.sleep(tries.failed() or 0.0, "transporting")
        self.transported = package_id
        self.services.log.info(f"Package transported to {self.mode}", package_id=package_id)

    def start(self, auto_sync_db: bool, reserve: float = 0.0, start_timeout: bool = True) -> None:
        """Start it and wait for ``Started``; ApiError with the code when the start fails.
        ``reserve``: seconds of the step's deadline the wait leaves for what follows;
        ``start_timeout``: False when only what is left of the deadline bounds the wait."""
        phase = self.phase("start", reserve, own_timeout=start_timeout)
        job = self._start_job(auto_sync_db, phase)
        if job is not None:
            self.services.log.info("Start job created", job_id=job, auto_sync_db=auto_sync_db)
            self.starting = job
            phase.until(lambda: self._job_status(job), lambda status: status == "Started")
        self.services.log.info(f"Environment {self.mode} started")

    def _job_status(self, job: str) -> str:
        """The start job's status; once it has ended (Started, or an error code that says
        how it failed) it is no longer under way."""
        try:
            status = self.api.start_status(self.app_id, self.mode, job)
        except ApiError as exc:
            if exc.error_code in START_FAILURES:
                self.starting = ""
            raise
        if status != "Starting":
            self.starting = ""
        return status

    def _start_job(self, auto_sync_db: bool, phase: Phase) -> str | None:
        """POST start; the job to watch, or None once the environment runs.

        After a lost answer (the start may have begun) the request is sent again: while a
        start is under way the API refuses it (APP_ALREADY_HAS_A_STARTING_JOB), so it is
        asked again on the polling schedule until the API says how that start ended: a
        new job (the last one ended, the app is still stopped), ALREADY_STARTED (it
        succeeded), or the failure's own error code. Never two start jobs at once.
        """
        lost = False
        while True:
            try:
                return self.api.start(self.app_id, self.mode, auto_sync_db)
            except Uncertain as exc:
                if lost:
                    raise
                lost = True
                self.services.log.warning(
                    "The start request may have reached Mendix; asking again", reason=exc.message
                )
            except ApiError as exc:
                if exc.error_code == "ALREADY_STARTED":  # however the answer came: it runs
                    return None
                if exc.error_code != STARTING_JOB:
                    raise
                self.services.log.info(
                    "A start of the environment is already under way; waiting for it to end"
                )
                phase.pause()

    def package(self) -> DeployedPackage | None:
        """The package the environment holds now (None when none), read afresh."""
        return self.api.deployed_package(self.app_id, self.mode)

    def holds(self) -> str:
        """The package the environment holds now ('' when none), read afresh."""
        held = self.package()
        return held.package_id if held is not None else ""

    def state(self, new: str, old: str) -> Left:
        """Where a failed deploy left the environment, read afresh; a start this step
        asked for that is still under way is said as such, with its job."""
        if self.starting and (starting := self._under_way(new, old)) is not None:
            return starting
        try:
            status = self.status()
            held = self.holds() if status != "Empty" else ""
        except StepError:
            return Left("", "", f"environment {self.mode}'s state could not be read")
        which = _which(held, new, old)
        if status == "Running":
            return Left(status, held, f"environment {self.mode} is running {which}")
        if status == "Empty":
            return Left(status, held, f"environment {self.mode} is empty")
        return Left(status, held, f"environment {self.mode} is stopped, holding {which}")

    def _under_way(self, new: str, old: str) -> Left | None:
        """The start still under way, read afresh; as last seen when it cannot be read
        (the step's deadline has passed); None once it has ended."""
        job = self.starting
        watch = (
            "watch it on the environment's page in the Mendix Portal, or with GET "
            + self.api.start_url(self.app_id, self.mode, job)
        )
        try:
            if self._job_status(job) != "Starting":
                return None
            held, known = self.holds(), True
        except StepError as exc:
            if exc.error_code in START_FAILURES:  # the start has ended: it failed
                return None
            held, known = self.transported or old, False
        doing = f"environment {self.mode} is starting {_which(held, new, old)}"
        if known:
            words = f"{doing}: its start job {job} is under way ({watch})"
        else:
            words = (
                f"{doing}, as far as the step knows: its start job {job} still reported "
                f"Starting at the last check ({watch})"
            )
        return Left("", held, words, start_job=job)


@dataclass(frozen=True)
class Left:
    """The state a failed deploy left an environment in: its status ("" when not read or
    not readable), the package it holds ("" for none), and both in words."""

    status: str
    held: str
    words: str
    start_job: str = ""  # the JobId of a start still under way, when one is

    @property
    def down(self) -> bool:
        """Known not to be running, and not starting either."""
        return self.status not in ("", "Running") and not self.start_job


def _which(held: str, new: str, old: str) -> str:
    if not held:
        return "no package"
    if held == new:
        return f"the new package {held}"
    if held == old:
        return f"the package that ran before ({held})"
    return f"package {held}"
