"""Put a built package on an environment, safely: snapshot, stop, transport, settings, start.

The order matters and so does each answer:
1. preflight, before anything is built: the environment exists, production needs
   allow-production, and a snapshot that will be taken is allowed ("Access to Backups");
2. a snapshot of the running environment (backup: auto on production, or true), taken
   before the stop: no added downtime, and a snapshot that fails leaves it untouched;
3. stop, transport, then the settings file (the new model's constants exist only now);
4. start, done only when its job reports ``Started``.
A failed start (an error code, or start-timeout) brings the tail of the day's app log into
the error; with rollback the package that ran before is put back (with the database from
the snapshot, when one was taken) and started, within what is left of the step's timeout.
Every failure says the state it leaves the environment in: a start still under way is
said as such, with its job, never as a stopped environment to start. Failures are
DeployFailed (exit 7) with the API's error code and a fix; the deadline and signals keep
their own exit codes, and a rollback never turns a failed deploy into a success.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from ci_step.config.validate import Config
from ci_step.domain.app_settings import ChangeSet, Settings
from ci_step.errors import (
    ApiError,
    AuthError,
    ConfigError,
    DeadlineExceeded,
    DeployFailed,
    StepError,
    input_name,
)
from ci_step.flow import apply_settings
from ci_step.flow.backup import Backups
from ci_step.flow.environment import Environment, Left, Timing
from ci_step.flow.outputs import url_output
from ci_step.flow.services import Services
from ci_step.mendix import download, logs
from ci_step.mendix.deploy_api import DeployApi, DeployedPackage, EnvironmentInfo
from ci_step.report.result import StepResult
from ci_step.secrets import redact
from ci_step.units import Bytes


@dataclass(frozen=True)
class Deployment:
    """What a deploy needs from the inputs, taken once."""

    app_id: str
    environment: str
    auto_sync_db: bool
    allow_production: bool
    timing: Timing
    backup: str  # auto, true or false
    rollback: bool
    log_tail: int  # lines of the app's log shown after a failed start; 0: the log is not read
    settings: Settings | None
    run: str  # names the CI run, for the snapshot's comment

    @classmethod
    def of(cls, config: Config) -> Deployment:
        return cls(
            app_id=config.app_id,
            environment=config.environment,
            auto_sync_db=config.auto_sync_db,
            allow_production=config.allow_production,
            timing=Timing(config.poll_interval, config.stop_timeout, config.start_timeout),
            backup=config.backup,
            rollback=config.rollback,
            log_tail=config.log_tail,
            settings=config.settings,
            run=config.description,
        )

    def wants_backup(self, production: bool) -> bool:
        return self.backup == "true" or (self.backup == "auto" and production)

    def dry_run_steps(self) -> str:
        """What the deploy would do, for a dry run."""
        steps = [f"deployed to {self.environment}:"]
        if self.backup != "false":
            when = "" if self.backup == "true" else " if it is a production environment"
            steps.append(f"a snapshot of it{when},")
        steps.append("stop it if it runs, transport the package,")
        if self.settings is not None:
            steps.append(f"apply {self.settings.path},")
        steps.append(f"start it (AutoSyncDb {str(self.auto_sync_db).lower()}) and wait for Started")
        if self.rollback:
            steps.append("(rolled back if the start fails)")
        return " ".join(steps)


def dry_run_steps(config: Config) -> str:
    """What a deploy would do, for a dry run."""
    from ci_step.flow import unit_tests

    return Deployment.of(config).dry_run_steps() + unit_tests.dry_run_steps(config)


def preflight(config: Config, services: Services) -> EnvironmentInfo:
    """Check, before anything is built, what would stop the deploy while it costs nothing:
    the environment's name, production without allow-production, and the permission to take
    the snapshot the deploy will take."""
    target = Deployment.of(config)
    environment = _environment(target, services)
    if target.wants_backup(environment.production):
        _backups(target, services, environment).check_access()
    return environment


def promoted_package(config: Config, services: Services) -> DeployedPackage:
    """The package that promote-from runs (ApiError, exit 5, when it runs none)."""
    api = DeployApi(services.api)
    status = api.get_environment(config.app_id, config.promote_from).status
    held = api.deployed_package(config.app_id, config.promote_from)
    if held is not None and status != "Running":
        raise ApiError(
            f"Environment {config.promote_from} holds package {held.package_id} but is "
            f"{status}: only a package that runs there is promoted.",
            error_code="NOT_RUNNING",
            fix=f"start {config.promote_from} (or deploy to it again), then promote",
        )
    if held is None:
        raise ApiError(
            f"Environment {config.promote_from} holds no package, so there is nothing to "
            f"promote to {config.environment}.",
            error_code="PACKAGE_NOT_FOUND",
            fix=f"deploy a package to {config.promote_from} first, or check "
            f"{input_name('promote-from')}",
        )
    services.log.info(
        f"Promoting the package of {config.promote_from}",
        package_id=held.package_id,
        version=held.version,
    )
    return held


def dry_run_settings(config: Config, services: Services) -> list[str]:
    """What the settings file would change on the environment as it is now (printed text:
    a secret written in the file as a plain value is redacted)."""
    if config.settings is None:
        return []
    target = Deployment.of(config)
    environment = Environment(services, target.app_id, target.environment, target.timing)
    try:
        changes = apply_settings.apply(environment, config.settings, dry_run=True)
    except ApiError as exc:
        return [redact(f"The settings file could not be applied as the environment is now: {exc}")]
    return [redact(f"would change {change.describe()}") for change in changes.changes]


def deploy_package(config: Config, services: Services, package_id: str, result: StepResult) -> None:
    """Deploy ``package_id``; fills in the deploy outputs whatever happens."""
    target = Deployment.of(config)
    result.deploy_result = "running"  # should it end otherwise, StepResult.fail names how
    try:
        _Deploy(target, services, package_id, result).run()
    except (ConfigError, DeadlineExceeded, DeployFailed):
        raise
    except StepError as exc:
        package = _package(package_id, result.version)
        raise DeployFailed(
            f"Deploying {package} to {target.environment} failed: {exc.message}",
            fix=exc.fix if exc.fix != type(exc).standard_fix() else "",
            error_code=exc.error_code,
        ) from None
    result.deploy_result = "success"
    from ci_step.flow import unit_tests  # the gate after the deploy, when asked for

    unit_tests.after_deploy(config, services, result)


def _environment(target: Deployment, services: Services) -> EnvironmentInfo:
    environment = DeployApi(services.api).get_environment(target.app_id, target.environment)
    if environment.production and not target.allow_production:
        allow = input_name("allow-production", "true")
        raise ConfigError(
            [
                f"environment '{target.environment}' is a production environment; "
                f"set {allow} to deploy to it"
            ],
            [("set", f"{allow} (or deploy elsewhere)")],
        )
    return environment


def _package(package_id: str, version: str) -> str:
    """A package as a message names it: its id, and its version when known."""
    return f"package {package_id} (version {version})" if version else f"package {package_id}"


def _fix_of(failure: StepError) -> str:
    """What to do about ``failure`` of a deploy: its own fix, else the deploy's."""
    if isinstance(failure, DeadlineExceeded):
        return failure.fix
    own = failure.fix if failure.fix != type(failure).standard_fix() else ""
    return own or DeployFailed.standard_fix()


def _same_cause(first: StepError, second: StepError) -> bool:
    return first.message == second.message or (
        bool(first.error_code) and first.error_code == second.error_code
    )


def _backups(target: Deployment, services: Services, info: EnvironmentInfo) -> Backups:
    interval = target.timing.poll_interval
    return Backups.of(services, target.app_id, target.environment, info.environment_id, interval)


class _Deploy:
    """One deploy of one package, step by step, keeping what a failure must report."""

    def __init__(
        self, target: Deployment, services: Services, package_id: str, result: StepResult
    ) -> None:
        self.target = target
        self.services = services
        self.package_id = package_id
        self.result = result
        self.mode = target.environment
        self.env = Environment(services, target.app_id, target.environment, target.timing)
        self.before = ""  # the package the environment held before
        self.before_version = ""  # and its version
        self.second: StepError | None = None  # how the rollback's start failed, if it did
        self.backups: Backups | None = None
        self.reported = False  # the failure raised already says the environment's state
        self.was_running = False
        self.changes: ChangeSet | None = None  # what the settings file changed
        self.url = ""  # the environment's Url as the Deploy API gave it first

    def run(self) -> None:
        self.result.enter("preflight")
        info = _environment(self.target, self.services)
        self.url = info.url
        self.result.environment_url = url_output(info.url, self.services.log)
        held = self.env.package() if info.status != "Empty" else None
        if held is not None:
            self.before, self.before_version = held.package_id, held.version
        self.was_running = info.status == "Running"
        rerun = self.was_running and self.before == self.package_id
        if not rerun:
            self.services.log.info(
                f"Deploying to {self.mode}", package_id=self.package_id, status=info.status
            )
        if not rerun and info.status != "Empty" and self.target.wants_backup(info.production):
            self._snapshot(info)
        try:
            self._rerun() if rerun else self._change()
        except StepError as exc:
            if self.reported or isinstance(exc, ConfigError):
                raise  # a failed start has said the state itself
            self._failed(exc)

    def _change(self) -> None:
        """Stop, transport, settings, start: from here on the environment is changed."""
        if self.was_running:
            self.result.enter("stop")
            self._doing(f"environment {self.mode} is being stopped")
            self.env.stop()
        self.result.enter("transport")
        self._doing(f"environment {self.mode} is stopped; the transport may still complete")
        self.env.transport(self.package_id)
        self._settings()
        self._start()
        self._done()

    def _failed(self, failure: StepError, outcome: str = "") -> None:
        """Raise what ends the deploy: the cause, what a rollback did (``outcome``) and the
        state the environment is left in; a timeout keeps its exit code."""
        self.result.phase_failed()  # the first failure, whatever a rollback does next
        left = self._left_in()
        cause = failure.message.rstrip(".")
        package = _package(self.package_id, self.result.version)
        message = f"Deploying {package} to {self.mode} failed: {cause}."
        if outcome:
            message += f" {outcome}"
        message += f" Now {left.words}."
        self.reported = True
        fix = self._up_first(left, _fix_of(failure))
        if isinstance(failure, DeadlineExceeded):
            raise DeadlineExceeded(message, fix=fix) from None
        raise DeployFailed(message, fix=fix, error_code=failure.error_code) from None

    def _up_first(self, left: Left, fix: str) -> str:
        """When the deploy took down an app that ran, getting it up again comes first:
        while a start of it is under way, that start is watched, never asked for again."""
        if not (self.was_running and self.before):
            return fix
        if left.start_job:
            first = (
                f"{self.mode} is still starting (start job {left.start_job}): watch that "
                "start on the environment's page in the Mendix Portal until the app runs, "
                "and read the environment's log there should it fail"
            )
        elif not left.down:
            return fix
        elif left.held != self.before:
            first = (
                f"{self.mode} is down: deploy the package that ran before to it again "
                f"({input_name('package-id', self.before)})"
            )
        elif self.second is not None:
            return self._both_failed(self.second, fix)
        else:
            first = (
                f"{self.mode} is down, holding the package that ran before: start it from "
                "the Mendix Portal"
            )
        return f"{first}; then {fix}" if fix else first

    def _both_failed(self, second: StepError, fix: str) -> str:
        """The fix when the rollback's start failed too: one that answers both starts."""
        first = f"{self.mode} is down: the rollback's start failed too"
        again = _fix_of(second)
        if again == fix:
            return f"{first}; for both starts: {fix}"
        return f"{first}: {again}; then, for the first start: {fix}"

    def _doing(self, text: str) -> None:
        """What keeps going on the Mendix side if the step is stopped now."""
        self.result.on_mendix = text

    def _rerun(self) -> None:
        """The package already runs: change settings only when the file asks, and restart
        only then (a restart would cost the users downtime for nothing)."""
        log = self.services.log
        if self._settings():
            log.info(f"Restarting {self.mode} so the changed settings take effect")
            self.result.enter("stop")
            self._doing(f"environment {self.mode} is being restarted")
            self.env.stop()
            self._start()
        else:
            log.info(f"Environment {self.mode} already runs this package; nothing to do")
        self._done()

    def _snapshot(self, info: EnvironmentInfo) -> None:
        self.result.enter("snapshot")
        self.backups = _backups(self.target, self.services, info)
        self._doing(
            f"the snapshot of {self.mode} keeps running on the Mendix side; "
            f"{self.mode} itself was not changed"
        )
        comment = f"mendix-build: before deploying {self.package_id} to {self.mode}"
        if self.result.version:
            comment += f" (version {self.result.version})"
        if self.target.run:
            comment += f"; {self.target.run}"
        try:
            self.result.backup_id = self.backups.snapshot(self.services, comment[:500])
        except (ApiError, AuthError) as exc:
            self.result.environment_state = f"Environment {self.mode} was not changed."
            raise DeployFailed(
                f"{exc.message} Nothing else was changed: {self.mode} still runs as before.",
                fix=exc.fix,
                error_code=exc.error_code,
            ) from None

    def _settings(self) -> int:
        settings = self.target.settings
        if settings is None:
            return 0
        self.result.enter("settings")
        changes = apply_settings.apply(self.env, settings)
        self.changes = changes
        self.result.settings_changes = [change.describe() for change in changes.changes]
        return len(changes.changes)

    def _start(self) -> None:
        self.result.enter("start")
        self._doing(f"the start of {self.mode} goes on on the Mendix side")
        # With a rollback to do, the start leaves it part of the step's time.
        reserve = self._rollback_reserve() if self.target.rollback else 0.0
        try:
            self.env.start(self.target.auto_sync_db, reserve=reserve)
        except (ApiError, AuthError, DeadlineExceeded) as failure:
            self._failed_start(failure)

    def _rollback_reserve(self) -> float:
        """Seconds of the step's deadline kept for a rollback: half of what is left, at
        most a stop and a start (and a restore's worth, guessed as a start)."""
        timing = self.target.timing
        return min(
            self.services.deadline.remaining() / 2, timing.stop_timeout + 2 * timing.start_timeout
        )

    def _done(self) -> None:
        self._doing("")
        self.result.deployed = True
        try:  # the URL may have been set by the start; the deploy is done either way
            url = self.env.api.get_environment(self.target.app_id, self.mode).url
            if url and url != self.url:  # a URL already checked is not warned about again
                self.result.environment_url = url_output(url, self.services.log)
        except StepError as exc:
            self.services.log.warning(
                "Could not read the environment's URL after the start", reason=exc.message
            )

    def _failed_start(self, failure: StepError) -> None:
        """Report the app log, roll back when asked, say the state; always raises."""
        self.result.phase_failed()  # the start failed first, whatever the rollback does
        self.result.log_tail = self._log_tail()
        outcome = ""
        if self.target.rollback:
            self.result.enter("rollback")
            outcome = self._roll_back(failure)
        self._failed(failure, outcome)

    def _left_in(self) -> Left:
        """The environment's state after a failure, read afresh, kept for the summary."""
        left = self.env.state(new=self.package_id, old=self.before)
        self.result.environment_state = left.words[0].upper() + left.words[1:] + "."
        return left

    def _log_tail(self) -> list[str]:
        """The last lines of today's (UTC) app log; a note instead when it cannot be read.
        With log-tail 0 the log is not even asked for (it may hold personal data)."""
        if not self.target.log_tail:
            return []
        wall = self.services.clock.wall()
        day = datetime.datetime.fromtimestamp(wall, datetime.UTC).date()
        storage = download.Storage(
            self.services.storage,
            self.services.deadline,
            refresh=lambda: "",
            progress=lambda done, total: None,
            notice=self.services.log.warning,
            api_root=self.services.api.base_url,
        )
        try:
            url = self.env.api.log_url(self.target.app_id, self.mode, day)
            tail = logs.tail(storage, url, self.target.log_tail)
        except (StepError, DeadlineExceeded) as exc:
            self.services.log.warning("The environment's log could not be read", reason=exc.message)
            return []
        lines = list(tail.lines)
        if not tail.complete:  # the lines are the last that were read, not the log's end
            self.services.log.warning(
                "The log is longer than the step reads of it; these lines are not its end",
                read=Bytes(logs.READ_BUDGET),
            )
        self.services.log.info(f"Last {len(lines)} lines of the log of {self.mode} ({day}):")
        for line in lines:
            self.services.log.info(f"  | {line}")
        return lines

    def _roll_back(self, failure: StepError) -> str:
        """Put back what ran before; what happened, in a sentence."""
        log = self.services.log
        if not self.before:
            log.warning(f"Environment {self.mode} held no package before: nothing to roll back to")
            return f"There is nothing to roll back to: {self.mode} held no package before."
        if self.before == self.package_id:
            return self._undo_settings(failure)
        old = _package(self.before, self.before_version)
        log.info(f"Rolling back {self.mode} to the package that ran before", package=self.before)
        try:
            self._doing(f"environment {self.mode} is being stopped for the rollback")
            self.env.stop()  # also ends a start still under way; stopping is safe to repeat
            if self.backups is not None and self.result.backup_id:
                self._doing(
                    f"the restore of {self.mode}'s database keeps running on the Mendix side; "
                    f"{self.mode} is stopped"
                )
                self.backups.restore(self.services, self.result.backup_id)
            self._doing(f"{self.mode} is stopped; the rollback's transport may still complete")
            self.env.transport(self.before)
            self._put_settings_back()
        except StepError as second:
            return f"The rollback to {old} failed too: {second.message.rstrip('.')}."
        restored = (
            " with the database from snapshot " + self.result.backup_id
            if self.result.backup_id
            else " on the database as the new model left it"
        )
        if self.was_running:
            self._doing(f"the start of {self.mode} with the package that ran before goes on")
            failed = self._start_again(failure, f"The rollback put back {old}{restored}")
            if failed:
                return failed
        self.result.rolled_back = True
        if not self.was_running:
            return f"Rolled back: {old} is back{restored} (stopped, as before)."
        return f"Rolled back: {old} runs again{restored}."

    def _start_again(self, failure: StepError, done: str) -> str:
        """Start what ran before again, within what is left of the step's timeout
        (start-timeout bounds only the new package's start). '' once it runs; else ``done``
        and how that start ended, without repeating the cause ``failure`` gave already."""
        try:
            self.env.start(auto_sync_db=True, start_timeout=False)
        except StepError as second:
            self.second = second
            if isinstance(second, DeadlineExceeded):  # the state says whether it goes on
                timeout = input_name("timeout")
                return (
                    f"{done} and asked for its start, which had not ended when {timeout} ran out."
                )
            if _same_cause(failure, second):
                return f"{done}, but its start failed the same way."
            return f"{done}, but its start failed too: {second.message.rstrip('.')}."
        return ""

    def _put_settings_back(self) -> None:
        """The values the settings file changed, as they were (where the model has them)."""
        if self.changes is not None and self.changes.changes:
            apply_settings.undo(self.env, self.changes)

    def _undo_settings(self, failure: StepError) -> str:
        """Changed settings kept the app from starting and the package did not change: the
        rollback puts the settings back and starts it again if it ran before."""
        if self.changes is None or not self.changes.changes:
            return "There is nothing to roll back to: the package did not change."
        self.services.log.info(f"Putting the settings of {self.mode} back as they were")
        try:
            self._doing(f"environment {self.mode} is being stopped for the rollback")
            self.env.stop()
            self._put_settings_back()
        except StepError as second:
            return f"The rollback failed too: {second.message.rstrip('.')}."
        if self.was_running:
            self._doing(f"the start of {self.mode} with its settings as they were goes on")
            done = f"The rollback put the settings of {self.mode} back as they were"
            failed = self._start_again(failure, done)
            if failed:
                return failed
        self.result.rolled_back = True
        if not self.was_running:
            return (
                f"Rolled back: the settings of {self.mode} are as they were (stopped, as before)."
            )
        return f"Rolled back: the settings of {self.mode} are as they were and it runs again."
