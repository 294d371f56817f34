"""The `mendix-build` command line: the edge where errors become exit codes.

Each input is one click option (flag, environment variables); the YAML config
file is loaded into click's default_map, so "flag > env > file > default"
is click's own precedence. Values arrive as text and are checked together.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TextIO

import click
from click.core import ParameterSource

from ci_step import __version__
from ci_step.config.inputs import BY_NAME, INPUTS, InputSpec
from ci_step.config.validate import APP_NEEDS, BUILD_NEEDS, RawInput
from ci_step.errors import ConfigError

# Options of the group itself; any other leading option belongs to `run`
# (`--version` is the package version input, so the tool's own is --tool-version).
GROUP_OPTIONS = ("-h", "--help", "-V", "--tool-version")


class _DefaultRun(click.Group):
    """`mendix-build` alone, or with only options, runs the step."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0].startswith("-") and args[0] not in GROUP_OPTIONS):
            args = ["run", *args]
        return super().parse_args(ctx, args)


def _load_config(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value:
        from ci_step.config import config_file
        from ci_step.report.ci_env import CiEnv

        loaded = config_file.load(value, CiEnv.detect().workspace)
        ctx.meta["config_file"] = loaded
        defaults = dict(ctx.default_map or {})
        defaults.update({BY_NAME[key].param: text for key, text in loaded.values.items()})
        ctx.default_map = defaults
    return value


# The inputs each kind of command reads; `run` reads them all.
SESSION = ("app-id", "username", "api-key", "base-url", "config", "result-file", "log-format")
PACKAGE = (*SESSION, "timeout")
WAIT = (*PACKAGE, "poll-interval")
DOWNLOAD = (*PACKAGE, "artifact-path")
CHANGE = (*PACKAGE, "dry-run")
START = (
    *CHANGE,
    "branch",
    "revision",
    "version",
    "description",
    "on-existing",
    "pat",
    "project-id",
    "repository-url",
)
DEPLOY = (
    *WAIT,
    "dry-run",
    "download",
    "artifact-path",
    "environment",
    "package-id",
    "auto-sync-db",
    "stop-timeout",
    "start-timeout",
    "allow-production",
    "backup",
    "rollback",
    "log-tail",
    "settings-file",
    "settings-variables",
    "promote-from",
    "unit-tests",
    "unit-tests-password",
    "unit-tests-url",
    "unit-tests-timeout",
    "junit-file",
)
UNIT_TESTS = (
    *WAIT,
    "environment",
    "unit-tests-password",
    "unit-tests-url",
    "unit-tests-timeout",
    "junit-file",
)
PIPELINE_RUN = (
    "config",
    "result-file",
    "log-format",
    "timeout",
    "poll-interval",
    "pipeline-id",
    "pipelines-url",
    "project-id",
    "pat",
)
ALL = tuple(spec.name for spec in INPUTS)


def input_options(names: tuple[str, ...]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Attach the named inputs of the contract as options (each defined once, here)."""

    def attach(func: Callable[..., Any]) -> Callable[..., Any]:
        for spec in reversed(INPUTS):
            if spec.name in names:
                func = _option(spec)(func)
        return func

    return attach


def _option(spec: InputSpec) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    default = f" [default: {spec.default}]" if spec.default else ""
    extra: dict[str, Any] = {}
    if spec.name == "config":
        extra = {"is_eager": True, "callback": _load_config}
    if spec.boolean:
        extra = {"is_flag": False, "flag_value": "true"}
    return click.option(
        spec.flag,
        spec.param,
        envvar=spec.env_names,
        default=None,
        metavar="TEXT",
        help=f"{spec.help}{default} (env: {spec.mendix_variable})",
        **extra,
    )


def collect(ctx: click.Context, values: dict[str, Any]) -> dict[str, RawInput]:
    """Each input's value and the name under which the user gave it."""
    from os import environ

    loaded = ctx.meta.get("config_file")
    raw: dict[str, RawInput] = {}
    for spec in INPUTS:
        value = values.get(spec.param)
        source = ctx.get_parameter_source(spec.param) if spec.param in values else None
        if value in (None, ""):
            raw[spec.name] = RawInput(spec.default, spec.name)
        elif source is ParameterSource.COMMANDLINE:
            raw[spec.name] = RawInput(value, spec.flag)
        elif source is ParameterSource.ENVIRONMENT:
            name = next((n for n in spec.env_names if environ.get(n)), spec.mendix_variable)
            raw[spec.name] = RawInput(value, name)
        elif source is ParameterSource.DEFAULT_MAP and loaded is not None:
            raw[spec.name] = RawInput(value, f"{spec.name} (in {loaded.path})")
        else:
            raw[spec.name] = RawInput(value, spec.name)
    return raw


@click.group(cls=_DefaultRun, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--tool-version", prog_name="mendix-build")
def cli() -> None:
    """Build a Mendix deployment package (.mda) through the Build API, wait, download it.

    Without a subcommand, runs the build step (`run`).
    """


def _run_and_exit(
    ctx: click.Context,
    values: dict[str, Any],
    action: Any = None,
    needs: frozenset[str] = BUILD_NEEDS,
    arguments: dict[str, str] | None = None,
    problems: ConfigError | None = None,
) -> None:
    """Run an action; ``needs``: the inputs it cannot do without; ``arguments``: inputs
    given as positional arguments (they win); ``problems``: with the command's own options,
    reported with those of the inputs."""
    from ci_step.runner import execute

    loaded = ctx.meta.get("config_file")
    options: dict[str, Any] = {"needs": needs}
    if action is not None:
        options["action"] = action
    raw = collect(ctx, values)
    for name, value in (arguments or {}).items():
        raw[name] = RawInput(value, name.upper().replace("-", "_") + " argument")
    if loaded and loaded.problems:
        in_file = ConfigError(loaded.problems, [("correct", f"config file {loaded.path}")])
        problems = in_file.joined(problems) if problems else in_file
    sys.exit(execute(raw, problems, **options))


def _commands() -> Any:
    from ci_step.flow import commands

    return commands


@cli.command("run")
@input_options(ALL)
@click.pass_context
def run_command(ctx: click.Context, /, **values: Any) -> None:
    """Start a build (or reuse one), wait, download the .mda, write the CI outputs."""
    _run_and_exit(ctx, values)


@cli.command("start")
@input_options(START)
@click.pass_context
def start_command(ctx: click.Context, /, **values: Any) -> None:
    """Start a build and print its package id (honours on-existing)."""
    _run_and_exit(ctx, values, _commands().start)


def _package_command(name: str, summary: str, inputs: tuple[str, ...]) -> None:
    """`mendix-build NAME PACKAGE_ID`: the action of the same name in ci_step.flow.commands."""

    @cli.command(name, help=summary)
    @click.argument("package", metavar="PACKAGE_ID")
    @input_options(inputs)
    @click.pass_context
    def command(ctx: click.Context, /, package: str, **values: Any) -> None:
        # The argument is named apart from the package-id input's option: they must
        # never overwrite each other (a GitLab dotenv report sets MENDIX_PACKAGE_ID).
        action = getattr(_commands(), name)(package)
        _run_and_exit(ctx, values, action, APP_NEEDS)


for _name, _summary, _inputs in (
    ("wait", "Wait for a package's build to end (exit 1 when it Failed).", WAIT),
    ("download", "Download and verify a Succeeded package.", DOWNLOAD),
    ("show", "Print one package as JSON.", PACKAGE),
    ("delete", "Delete a package (409 PACKAGE_IN_USE: deployed, or its build still runs).", CHANGE),
):
    _package_command(_name, _summary, _inputs)


@cli.command("deploy")
@click.argument("package", metavar="[PACKAGE_ID]", required=False)
@input_options(DEPLOY)
@click.pass_context
def deploy_command(ctx: click.Context, /, package: str | None, **values: Any) -> None:
    """Deploy a package to the environment input: stop, transport, start (exit 7 on failure).

    PACKAGE_ID defaults to the package-id input (MENDIX_PACKAGE_ID, which a GitLab
    build job's dotenv report hands to the jobs that need it).
    """
    needs = APP_NEEDS | {"environment", "package-id"}
    given = {"package-id": package} if package is not None else None
    _run_and_exit(ctx, values, _commands().deploy, needs, arguments=given)


@cli.command("unit-tests")
@input_options(UNIT_TESTS)
@click.pass_context
def unit_tests_command(ctx: click.Context, /, **values: Any) -> None:
    """Run the app's unit tests on an environment that runs (exit 8 when any fails).

    The Unit Testing module's remote API at the environment's Url (or unit-tests-url);
    writes the JUnit report to junit-file."""
    from ci_step.config.gates import UNIT_TESTS_NEEDS
    from ci_step.flow.unit_tests import run_unit_tests

    _run_and_exit(ctx, values, run_unit_tests, UNIT_TESTS_NEEDS)


@cli.command("pipeline-run")
@input_options(PIPELINE_RUN)
@click.pass_context
def pipeline_run_command(ctx: click.Context, /, **values: Any) -> None:
    """Start a run of a Mendix Pipelines pipeline, print its id, wait for its end.

    Exit 1 when it ends FAILED. Needs pipeline-id, project-id and pat (scopes
    mx:pipelines:write and mx:pipelines:read)."""
    from ci_step.config.gates import PIPELINE_NEEDS
    from ci_step.flow.pipeline_run import run_pipeline

    _run_and_exit(ctx, values, run_pipeline, PIPELINE_NEEDS)


@cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option(
    "--filter-status",
    multiple=True,
    help="Only packages with this Status (Queued, Building, Uploading, Succeeded, Failed; "
    "any case); repeatable.",
)
@click.option("--filter-version", multiple=True, help="Only packages with this version.")
@input_options(PACKAGE)
@click.pass_context
def list_command(
    ctx: click.Context,
    /,
    as_json: bool,
    filter_status: tuple[str, ...],
    filter_version: tuple[str, ...],
    **values: Any,
) -> None:
    """List the app's packages, newest first."""
    from ci_step.config.parsers import shown
    from ci_step.domain.packages import package_status

    statuses, problems = [], []
    for text in filter_status:
        try:
            statuses.append(package_status(text))
        except ValueError as exc:
            problems.append(f"--filter-status {shown(text)} {exc}")
    action = _commands().listing(as_json, tuple(statuses), filter_version)
    bad = ConfigError(problems, [("correct", "`--filter-status`")]) if problems else None
    _run_and_exit(ctx, values, action, APP_NEEDS, problems=bad)


@cli.command("prune")
@click.option(
    "--keep",
    type=click.IntRange(min=0),
    required=True,
    help="How many of the newest Succeeded packages to keep.",
)
@input_options(CHANGE)
@click.pass_context
def prune_command(ctx: click.Context, /, keep: int, **values: Any) -> None:
    """Delete the oldest Succeeded packages beyond --keep (never one in progress).

    With --dry-run true, only list them."""
    _run_and_exit(ctx, values, _commands().prune(keep), APP_NEEDS)


@cli.command("simulate")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=int, help="API port (0: any free).")
@click.option("--storage-port", default=0, type=int, help="Storage host port (0: any free).")
@click.option(
    "--storage-tls",
    default="",
    metavar="CERT,KEY",
    help="Serve the storage host over https, as real storage hosts are, with this "
    "certificate and key (PEM files); the clients trust its CA through REQUESTS_CA_BUNDLE.",
)
@click.option(
    "--username",
    default="demo@example.com",
    show_default=True,
    help="The Mendix-Username the simulator accepts.",
)
@click.option(
    "--api-key",
    envvar="MENDIX_SIMULATOR_API_KEY",
    default="demo-api-key",
    show_default=True,
    help="The Mendix-ApiKey the simulator accepts.",
)
@click.option(
    "--app",
    "apps",
    multiple=True,
    default=("calc", "legacy:svn"),
    show_default=True,
    help="An app to hold, NAME or NAME:svn; repeatable.",
)
@click.option("--queued", default=1.0, show_default=True, help="Seconds a build stays Queued.")
@click.option("--building", default=3.0, show_default=True, help="Seconds in Building.")
@click.option("--uploading", default=1.0, show_default=True, help="Seconds in Uploading.")
@click.option(
    "--time-scale",
    default=1.0,
    show_default=True,
    help="Simulated seconds per real second (60: a 20-minute build in 20 s).",
)
@click.option("--url-ttl", default=900, show_default=True, help="TTL of download URLs, seconds.")
@click.option(
    "--package-size",
    default=512 * 1024,
    show_default=True,
    help="Package bytes (a ZIP archive: at least 120).",
)
@click.option("--fail-revision", multiple=True, help="A revision whose build ends Failed.")
@click.option("--stuck", is_flag=True, help="Builds stay Queued forever.")
@click.option(
    "--pat",
    envvar="MENDIX_SIMULATOR_PAT",
    default="",
    help="A personal access token the App Repository API endpoint accepts.",
)
@click.option(
    "--seed",
    "seeds",
    multiple=True,
    metavar="APP:VERSION[:STATUS[:MODE]]",
    help="An existing package, e.g. calc:1.2.9 or calc:2.0.0:Failed; with MODE it runs on "
    "that environment already (calc:1.2.9:Succeeded:Acceptance); repeatable.",
)
@click.option(
    "--deploy-error",
    default="",
    metavar="CODE[:times=N]",
    help="Every environment fails deploys with this errorCode: DB_SYNC_FAILED, "
    "MISSING_CONSTANT, STARTUP_ACTION_FAILED, START_FAILED, INSECURE_ADMIN_PASSWORD (start), "
    "INVALID_RUNTIME_VERSION, TRANSPORT_NOT_ALLOWED, PACKAGE_PARSE_FAILED (transport), "
    "STOP_FAILED; with times=N only the next N starts (transports, stops) per environment, "
    "e.g. DB_SYNC_FAILED:times=1 to watch a rollback.",
)
@click.option(
    "--processing",
    default=0,
    type=click.IntRange(min=0),
    help="Transports answered 503 'MDA is still being processed' first, per environment.",
)
@click.option(
    "--start-seconds", default=2.0, show_default=True, help="Seconds an environment takes to start."
)
@click.option(
    "--clock-offset",
    default=0.0,
    show_default=True,
    help="Seconds the server's clock is ahead of this machine's (negative: behind); "
    "shifts CreationDate.",
)
@click.option("--snapshot-fails", is_flag=True, help="Backups: every snapshot ends failed.")
@click.option("--restore-fails", is_flag=True, help="Backups: every restore ends failed.")
@click.option(
    "--no-backup-access",
    is_flag=True,
    help="The user lacks 'Access to Backups': the Backups API answers 403 NO_ACCESS.",
)
@click.option(
    "--log-lines",
    default=200,
    show_default=True,
    type=click.IntRange(min=0),
    help="Lines of an environment's log of a day, before what happened that day.",
)
@click.option(
    "--constant",
    "constants",
    multiple=True,
    metavar="NAME[=VALUE]",
    help="A constant the app's model gains: packages built or seeded from now on bring it "
    "(the running environments lack it). Without =VALUE it has no default value, so a start "
    "after transporting such a package fails MISSING_CONSTANT until the environment's "
    "settings give it one. Repeatable.",
)
@click.option(
    "--unit-tests",
    default=12,
    show_default=True,
    type=click.IntRange(min=0),
    help="Unit tests each app's Unit Testing module knows (served at each environment's app "
    "URL, /unittests/).",
)
@click.option(
    "--failing-unit-test",
    "failing_unit_tests",
    multiple=True,
    metavar="NAME[:ERROR]",
    help="A unit test that fails, e.g. MyFirstModule.Test_Total; repeatable.",
)
@click.option(
    "--unit-test-seconds", default=0.2, show_default=True, help="Seconds each unit test takes."
)
@click.option(
    "--unit-tests-password",
    envvar="MENDIX_SIMULATOR_UNIT_TESTS_PASSWORD",
    default="demo-unit-tests",
    show_default=True,
    help="The RemoteApiPassword of every app's Unit Testing module.",
)
@click.option(
    "--no-unit-testing",
    is_flag=True,
    help="The apps' Unit Testing module is not enabled: /unittests/ answers 404.",
)
@click.option(
    "--local-app-urls",
    is_flag=True,
    help="Each environment's Url is its app on the simulator (plain http on loopback) "
    "instead of https://APP-test.mendixcloud.example.",
)
@click.option(
    "--pipeline",
    "pipelines",
    multiple=True,
    default=("test-pipeline",),
    show_default=True,
    metavar="ID[:SUCCEEDED|FAILED]",
    help="A Mendix Pipelines pipeline of every app, whose runs end so; repeatable.",
)
@click.option(
    "--pipeline-seconds",
    default=3.0,
    show_default=True,
    help="Seconds a pipeline run stays RUNNING.",
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar="KIND[:key=value,...]",
    help="Inject a fault; repeatable. Kinds: status, reset, delay, truncate, expire, "
    "ignore-range, redirect, rewrite, trickle, slow-headers, location, not-zip, pause, "
    "padded, nested. Keys: listener (api, storage or app), method, path (regex), times "
    "(-1: always), status, retry_after, delay, after_bytes, location, process, body, "
    "field_name, field_value, until, size. Example: status:status=503,times=3,retry_after=2",
)
def simulate_command(**options: Any) -> None:
    """Serve a simulated Build and Deploy API on loopback until interrupted."""
    from ci_step.simulator.run import OptionError, SimulateOptions, prepare, serve

    settings = SimulateOptions(**options)
    try:
        service, faults = prepare(settings)
    except OptionError as exc:
        raise click.BadParameter(str(exc), param_hint=exc.option) from None
    try:
        serve(
            service,
            host=settings.host,
            port=settings.port,
            storage_port=settings.storage_port,
            storage_tls=settings.storage_tls,
            faults=faults,
            local_app_urls=settings.local_app_urls,
        )
    except OptionError as exc:  # nothing wrong with the command: one line, no usage
        raise _Refused(str(exc)) from None


class _Refused(click.ClickException):
    """An option the command line took that the machine refuses: exit 2, one line."""

    exit_code = 2


@cli.command("demo")
@click.option(
    "--keep",
    type=click.Path(file_okay=False),
    default=None,
    help="Keep the demo workspace in this directory.",
)
def demo_command(keep: str | None) -> None:
    """Build and deploy against the built-in simulator; show what a pipeline receives."""
    from ci_step.demo import run_demo

    sys.exit(run_demo(keep))


def main(args: list[str] | None = None) -> NoReturn:
    """The command line as a process runs it: the command's exit code, as Python ends.

    stdout and stderr are flushed here, so a reader that went away (``| head -1``) ends
    the run with exit 1 instead of a complaint from the interpreter's own last flush.
    """
    try:
        cli.main(args=args, prog_name="mendix-build")
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else 0 if done.code is None else 1
        if not isinstance(done.code, int | None):  # as Python would: the text, then exit 1
            sys.stderr.write(f"{done.code}\n")
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:  # None: started with the descriptor closed (>&-)
                stream.flush()
        except (OSError, ValueError):  # a reader that went away, a stream already closed
            code = code or 1
            _discard(stream)
    sys.exit(code)


def _discard(stream: TextIO) -> None:
    """What ``stream`` still holds goes nowhere: Python's own flush at exit, which would
    fail the same way, must not complain and turn the exit code into 120."""
    with contextlib.suppress(OSError, ValueError):  # ValueError: no descriptor of its own
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
