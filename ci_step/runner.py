"""Run the step from raw inputs to exit code: validate, build, report, publish."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TextIO

import requests

from ci_step import log as logging_
from ci_step import signals
from ci_step.clock import Clock, Deadline, SystemClock
from ci_step.config.inputs import INPUTS
from ci_step.config.parsers import LOG_FORMATS
from ci_step.config.spelling import speller
from ci_step.config.validate import (
    BUILD_NEEDS,
    Config,
    RawInput,
    result_file_of,
    validate,
)
from ci_step.errors import Cancelled, ConfigError, StepError, input_name, spelling
from ci_step.flow.build import run_build
from ci_step.flow.services import Services, retry_warning
from ci_step.inert import InertWriter, Writer
from ci_step.log import Log
from ci_step.mendix.build_api import USER_AGENT, BuildApi
from ci_step.mendix.repository import RepositoryApi
from ci_step.mendix.transport import Transport
from ci_step.report import publish
from ci_step.report.ci_env import CiEnv
from ci_step.report.result import PHASES, StepResult
from ci_step.secrets import REGISTRY, redact
from ci_step.units import Bytes, Seconds

Action = Callable[[Config, Services, StepResult], None]


@dataclass(frozen=True)
class Surroundings:
    """Where the step runs: the CI, time, where commands print, and files to write besides
    the CI's own outputs (the demo writes every CI's at once)."""

    ci: CiEnv
    clock: Clock = field(default_factory=SystemClock)
    stdout: TextIO = field(default_factory=lambda: sys.stdout)  # what commands print
    # the step's own commands (::add-mask::, its one ::error::; Azure's ##vso[...]): the
    # runner and the agent read them from stderr too, and stdout stays what a script captures
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    extra_writes: tuple[publish.Target, ...] = ()


def execute(
    raw: Mapping[str, RawInput],
    early: ConfigError | None,
    *,
    action: Action = run_build,
    needs: frozenset[str] = BUILD_NEEDS,
    where: Surroundings | None = None,
) -> int:
    where = where or Surroundings(CiEnv.detect())
    with spelling(speller(where.ci, raw)):  # every message names inputs as this CI does
        return _run_step(raw, early, action, needs, where)


def _run_step(
    raw: Mapping[str, RawInput],
    early: ConfigError | None,
    action: Action,
    needs: frozenset[str],
    where: Surroundings,
) -> int:
    ci, clock, stdout = where.ci, where.clock, where.stdout
    for spec in INPUTS:
        value = raw[spec.name].value if spec.name in raw else None
        if spec.secret and value and REGISTRY.add(value):
            publish.mask(value, ci, where.stderr)
    log_format = raw["log-format"].value if raw["log-format"].value in LOG_FORMATS else "auto"
    logging_.configure(log_format or "auto")
    log = logging_.get()
    started = clock.now()
    result = StepResult()
    config: Config | None = None
    out = InertWriter(stdout)  # what actions print, inert; the step's own commands bypass it
    previous = signals.install()
    try:
        try:
            config = validate(raw, ci, needs)
        except ConfigError as exc:
            raise (early.joined(exc) if early else exc) from None
        if early:
            raise early
        for secret in config.settings.secrets if config.settings else ():
            publish.mask(secret, ci, where.stderr)
        _warn_about_revision(config, ci, log)
        result.app_id = config.app_id
        result.enter("request")
        action(config, _services(config, clock, log, out), result)
    except signals.Interrupted as stop:
        result.fail(Cancelled(stop.signum, stop.name, result.on_mendix))
    except StepError as exc:
        result.fail(exc)
    except Exception as exc:  # a bug: say so, with the traceback, still write the outputs
        log.error(
            "Internal error (please report it)",
            error=f"{type(exc).__name__}: {exc}",
            traceback=traceback.format_exc(),
        )
        result.fail(StepError(f"Internal error: {type(exc).__name__}: {redact(str(exc))}"))
    finally:
        signals.quiet()
        out.end()
    result.duration_seconds = clock.now() - started
    try:
        return finish(result, where, log, config, raw)
    finally:
        signals.restore(previous)


def finish(
    result: StepResult,
    where: Surroundings,
    log: Log,
    config: Config | None,
    raw: Mapping[str, RawInput],
) -> int:
    ci = where.ci
    result_file = config.result_file if config else result_file_of(raw, ci)
    writes = publish.targets_for(ci, result_file, where.stderr) + list(where.extra_writes)
    problems = publish.publish(result, writes)
    for problem in problems:
        log.error("Output not written", problem=problem)
    if result.error is None:
        log.info(result.summary or _closing(result), **_known(_closing_fields(result)))
    else:
        for index, line in enumerate(result.error.lines()):
            (log.error if index == 0 else log.info)(line)
        log.info(
            "Step ended",
            result=result.outcome,
            exit_code=result.exit_code,
            failed_while=PHASES.get(result.failed_phase),
        )
    publish.announce_failure(result, ci, where.stderr)
    return result.exit_code


def _closing(result: StepResult) -> str:
    """The build step's closing line, when the action set none of its own."""
    return "Build and deploy succeeded" if result.deployed else "Build step succeeded"


def _closing_fields(result: StepResult) -> dict[str, object]:
    if result.summary:  # the sentence says what was done
        return {}
    size = None if result.artifact_size is None else Bytes(result.artifact_size)
    return {
        "package_id": result.package_id,
        "version": result.version,
        "artifact": result.artifact_path,
        "size": size,
        "environment": result.environment if result.deployed else None,
        "took": Seconds(result.duration_seconds),
    }


def _known(fields: dict[str, object]) -> dict[str, object]:
    """The fields that hold something: no ``environment=None`` in a line."""
    return {name: value for name, value in fields.items() if value not in (None, "")}


def _services(config: Config, clock: Clock, log: Log, out: Writer) -> Services:
    """One session per host kind: Mendix headers, the token and the storage never mix.

    Each transport knows the input its URL came from, as spelled, to name it in errors."""
    deadline = Deadline(clock, config.timeout)

    on_retry = retry_warning(log, "Mendix API")
    transport = Transport(
        requests.Session(), deadline, on_retry=on_retry, origin=input_name("base-url")
    )
    api = BuildApi(config.base_url, config.username, config.api_key, transport)
    repository = None
    if config.pat:
        repo_transport = Transport(
            requests.Session(), deadline, on_retry=on_retry, origin=input_name("repository-url")
        )
        repository = RepositoryApi(config.repository_url, config.pat, repo_transport)
    storage = requests.Session()
    storage.headers["User-Agent"] = USER_AGENT
    return Services(api, storage, deadline, clock, log, out, repository)


def _warn_about_revision(config: Config, ci: CiEnv, log: Log) -> None:
    sha = (
        ci.get("GITHUB_SHA")
        or ci.get("CI_COMMIT_SHA")
        or ci.get("GIT_COMMIT")
        or ci.get("BUILD_SOURCEVERSION")
    )
    revision = config.revision.lower()
    if sha and revision != "latest" and len(revision) >= 7 and sha.lower().startswith(revision):
        log.warning(
            f"{input_name('revision')} is this pipeline's own commit; that is a Team Server "
            "commit only when this repository is the Mendix app's repository"
        )
