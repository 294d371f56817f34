"""`mendix-build simulate`: serve the simulator in the foreground until a signal."""

from __future__ import annotations

import os
import shlex
import signal
import ssl
import threading
from dataclasses import dataclass

import click

from ci_step.simulator.content import MIN_SIZE
from ci_step.simulator.environments import (
    DeployError,
    SimEnvironment,
    misbehave,
    parse_deploy_error,
)
from ci_step.simulator.faults import Fault, parse_fault
from ci_step.simulator.packages import Constant, Durations
from ci_step.simulator.pipelines import FAILED, SUCCEEDED
from ci_step.simulator.server import ListenError, Simulator
from ci_step.simulator.state import BuildService
from ci_step.simulator.unit_tests import DEMO_REMOTE_API_KEY, UnitTesting, suites_of


class OptionError(ValueError):
    """A `simulate` option that cannot be used; ``option`` names it."""

    def __init__(self, message: str, option: str) -> None:
        super().__init__(message)
        self.option = option


@dataclass(frozen=True)
class SimulateOptions:
    """`mendix-build simulate`'s options, as click hands them over."""

    host: str
    port: int
    storage_port: int
    username: str
    api_key: str
    apps: tuple[str, ...]
    queued: float
    building: float
    uploading: float
    time_scale: float
    url_ttl: int
    package_size: int
    fail_revision: tuple[str, ...]
    stuck: bool
    pat: str
    seeds: tuple[str, ...]
    deploy_error: str
    processing: int
    start_seconds: float
    clock_offset: float
    faults: tuple[str, ...]
    snapshot_fails: bool = False
    restore_fails: bool = False
    no_backup_access: bool = False
    log_lines: int = 200
    constants: tuple[str, ...] = ()
    # the apps the environments run (the Unit Testing module) and Mendix Pipelines
    unit_tests: int = 12
    failing_unit_tests: tuple[str, ...] = ()
    unit_test_seconds: float = 0.2
    unit_tests_password: str = DEMO_REMOTE_API_KEY
    no_unit_testing: bool = False
    local_app_urls: bool = False
    pipelines: tuple[str, ...] = ()
    pipeline_seconds: float = 3.0
    storage_tls: str = ""  # "CERT,KEY": the storage host speaks https


def prepare(options: SimulateOptions) -> tuple[BuildService, list[Fault]]:
    """The service and the faults the options describe; OptionError names a bad one."""
    if options.package_size < MIN_SIZE:
        raise OptionError(
            f"{options.package_size}: a package is a ZIP archive of at least {MIN_SIZE} bytes",
            "--package-size",
        )
    try:
        faults = [parse_fault(spec) for spec in options.faults]
    except ValueError as exc:
        raise OptionError(str(exc), "--fault") from None
    try:
        failure = parse_deploy_error(options.deploy_error) if options.deploy_error else None
    except ValueError as exc:
        raise OptionError(str(exc), "--deploy-error") from None
    service = build_service(
        username=options.username,
        api_key=options.api_key,
        apps=options.apps,
        durations=(options.queued, options.building, options.uploading),
        time_scale=options.time_scale,
        url_ttl=options.url_ttl,
        package_size=options.package_size,
        fail_revisions=options.fail_revision,
        stuck=options.stuck,
        clock_offset=options.clock_offset,
    )
    service.pat = options.pat
    for spec in options.constants:
        name, has_value, value = spec.partition("=")
        if not name.strip():
            raise OptionError(f"{spec!r}: expected NAME[=VALUE]", "--constant")
        for sim_app in service.apps.values():
            sim_app.constants[name.strip()] = Constant("String", value if has_value else None)
    for seed in options.seeds:
        _seed(service, seed)
    failing = _failing(options.failing_unit_tests)
    for sim_app in service.apps.values():
        sim_app.backup_access = not options.no_backup_access
        for environment in sim_app.environments.values():
            _misbehave(environment, options, failure)
            environment.unit_testing = UnitTesting(
                enabled=not options.no_unit_testing,
                password=options.unit_tests_password,
                suites=suites_of(options.unit_tests, failing),
                seconds_per_test=options.unit_test_seconds,
            )
    _pipelines(service, options)
    return service, faults


def _failing(specs: tuple[str, ...]) -> dict[str, str]:
    """``NAME[:ERROR]`` each: a unit test that fails, with its error (default: the module's
    "One or more assertions failed")."""
    failing = {}
    for spec in specs:
        name, _, error = spec.partition(":")
        if not name.strip():
            raise OptionError(
                f"{spec!r}: expected NAME[:ERROR], e.g. MyFirstModule.Test_Total",
                "--failing-unit-test",
            )
        failing[name.strip()] = error
    return failing


def _pipelines(service: BuildService, options: SimulateOptions) -> None:
    """``ID[:SUCCEEDED|FAILED]`` each: a pipeline of every app, whose runs end that way."""
    service.pipelines.running_seconds = options.pipeline_seconds
    for spec in options.pipelines:
        pipeline_id, _, outcome = spec.partition(":")
        outcome = outcome.upper() or SUCCEEDED
        if not pipeline_id or outcome not in (SUCCEEDED, FAILED):
            raise OptionError(f"{spec!r}: expected ID[:SUCCEEDED|FAILED]", "--pipeline")
        for sim_app in service.apps.values():
            service.pipelines.add(sim_app.project_id, pipeline_id, outcome=outcome)


def _seed(service: BuildService, seed: str) -> None:
    """``APP:VERSION[:STATUS[:MODE]]``: a package, running on MODE if given."""
    app, _, rest = seed.partition(":")
    version, _, rest = rest.partition(":")
    status, _, mode = rest.partition(":")
    sim_app = service.apps.get(app)
    if sim_app is None or not version or (mode and mode not in sim_app.environments):
        raise OptionError(
            f"{seed!r}: expected APP:VERSION[:STATUS[:MODE]] of a known app and environment",
            "--seed",
        )
    if mode and status not in ("", "Succeeded"):
        raise OptionError(f"{seed!r}: only a Succeeded package can run on {mode}", "--seed")
    service.seed_package(app, version, status or "Succeeded", deployed_to=mode)


def _misbehave(
    environment: SimEnvironment, options: SimulateOptions, failure: DeployError | None
) -> None:
    misbehave(
        environment,
        failure=failure,
        processing=options.processing,
        start_seconds=options.start_seconds,
    )
    environment.snapshot_fails = options.snapshot_fails
    environment.restore_fails = options.restore_fails
    environment.log_lines = options.log_lines


def build_service(
    *,
    username: str,
    api_key: str,
    apps: tuple[str, ...],
    durations: tuple[float, float, float],
    time_scale: float = 1.0,
    url_ttl: int = 900,
    package_size: int = 512 * 1024,
    fail_revisions: tuple[str, ...] = (),
    stuck: bool = False,
    clock_offset: float = 0.0,
) -> BuildService:
    service = BuildService(
        username,
        api_key,
        durations=Durations(*durations),
        time_scale=time_scale,
        url_ttl=url_ttl,
        clock_offset=clock_offset,
    )
    for spec in apps:
        name, _, repo = spec.partition(":")
        service.add_app(
            name,
            repo=repo or "git",
            package_size=package_size,
            failing_revisions=set(fail_revisions),
            stuck_builds=stuck,
        )
    return service


def serve(
    service: BuildService,
    *,
    host: str,
    port: int,
    storage_port: int,
    faults: list[Fault],
    local_app_urls: bool = False,
    storage_tls: str = "",
) -> None:
    """Serve until SIGINT or SIGTERM, each request logged on a line of stderr; OptionError
    when a port cannot be listened on or ``storage_tls`` (``CERT,KEY``) cannot be used."""
    tls = _tls_files(storage_tls)
    try:
        simulator = Simulator(
            service, host=host, port=port, storage_port=storage_port, storage_tls=tls
        )
    except ssl.SSLError as exc:
        raise OptionError(
            f"{storage_tls}: not a certificate and its key ({exc.reason or exc})",
            "--storage-tls",
        ) from None
    except ListenError as exc:
        option = {"api": "--port", "storage": "--storage-port"}.get(exc.listener, "--host")
        if exc.port_taken:
            message = (
                f"port {exc.port} on {exc.host} is in use ({option}): choose another, "
                f"or {option} 0 for any free one"
            )
            raise OptionError(message, option) from None
        where = f"{exc.host}:{exc.port} (--host, {option})"
        raise OptionError(f"cannot listen on {where}: {exc.reason}", option) from None
    except OSError as exc:  # a certificate or key file that cannot be read
        raise OptionError(
            f"cannot read {storage_tls}: {exc.strerror or exc}", "--storage-tls"
        ) from None
    for fault in faults:
        simulator.add_fault(fault)
    if local_app_urls:
        simulator.serve_app_urls()
    simulator.on_answer = lambda entry: click.echo(entry.line(), err=True)
    simulator.start()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    _banner(simulator, faults)
    stop.wait()
    simulator.stop()


def _tls_files(spec: str) -> tuple[str, str] | None:
    """``CERT,KEY`` as two file names; None for an empty spec."""
    if not spec:
        return None
    cert, comma, key = spec.partition(",")
    files = cert.strip(), key.strip()
    if not comma or not all(files) or "," in key:
        raise OptionError(f"{spec!r}: expected CERT,KEY (two PEM files)", "--storage-tls")
    for name in files:
        if not os.path.isfile(name):
            raise OptionError(f"{name}: no such file", "--storage-tls")
    return files


def _banner(simulator: Simulator, faults: list[Fault]) -> None:
    """Where it listens, the credentials it takes and how to hand them to mendix-build,
    the apps with their packages and environments, the faults."""
    service = simulator.service
    click.echo(
        f"Mendix Build API simulator at {simulator.base_url} (storage host {simulator.storage_url})"
    )
    click.echo(
        f"Accepting Mendix-Username {service.username} with Mendix-ApiKey {service.api_key}; "
        "for mendix-build:"
    )
    variables = {
        "MENDIX_BASE_URL": simulator.base_url,
        "MENDIX_USERNAME": service.username,
        "MENDIX_API_KEY": service.api_key,
    }
    click.echo("  export " + " ".join(f"{k}={shlex.quote(v)}" for k, v in variables.items()))
    click.echo("Apps:")
    for app in service.apps.values():
        heads = ", ".join(f"{name} @ {rev}" for name, rev in app.branches.items())
        click.echo(f"  {app.app_id} ({app.repo}, project {app.project_id}): {heads}")
        for package in app.packages:
            click.echo(
                f"    package {package.version} {package.fixed_status}: {package.package_id}"
            )
        modes = ", ".join(
            f"{env.mode} ({env.status.lower()}{' ' + env.model_version if env.package_id else ''})"
            for env in app.environments.values()
        )
        click.echo(f"    environments: {modes}")
        for mode in app.environments:
            click.echo(f"    app of {mode}: {simulator.app_url(app.app_id, mode)}")
        for pipeline in service.pipelines.pipelines.get(app.project_id, {}).values():
            click.echo(f"    pipeline {pipeline.pipeline_id}: runs end {pipeline.outcome}")
    _unit_tests_banner(simulator)
    for fault in faults:
        click.echo(f"Fault: {fault}")
    click.echo("Each request is logged on a line of stderr.")
    click.echo("Stop with Ctrl-C.")


def _unit_tests_banner(simulator: Simulator) -> None:
    """How the apps' Unit Testing module answers, and the password it takes."""
    module = next(
        (
            env.unit_testing
            for app in simulator.service.apps.values()
            for env in app.environments.values()
        ),
        None,
    )
    if module is None or not module.enabled:
        click.echo("Unit Testing module: not enabled (/unittests/ answers 404)")
        return
    tests = sum(len(suite.tests) for suite in module.suites)
    failing = sum(test.fails for suite in module.suites for test in suite.tests)
    click.echo(
        f"Unit Testing module in every app: {tests} tests ({failing} failing), RemoteApiPassword "
        f"{module.password}; pass it as MENDIX_UNIT_TESTS_PASSWORD, and an app's URL above as "
        "MENDIX_UNIT_TESTS_URL (or --local-app-urls: the environments' Url leads there)"
    )
