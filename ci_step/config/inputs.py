"""The public input contract: one entry per input, spelled four ways.

action input / YAML key ``app-id``; environment ``MENDIX_APP_ID``; GitHub
container input ``INPUT_APP-ID`` (also ``INPUT_APP_ID``); flag ``--app-id``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ci_step.config import gates, parsers
from ci_step.config.parsers import Parse, plain
from ci_step.domain.app_settings import Allowed

DEFAULT_BASE_URL = "https://deploy.mendix.com"
DEFAULT_REPOSITORY_URL = "https://repository.api.mendix.com"
DEFAULT_PIPELINES_URL = "https://pipeline-portal.home.mendix.com"


@dataclass(frozen=True)
class InputSpec:
    name: str
    help: str
    default: str | None = None
    required: bool = False
    secret: bool = False
    in_file: bool = True  # may it come from the YAML config file?
    boolean: bool = False  # as a flag alone it means true
    parse: Parse | None = None  # text -> typed value; None: read by the command line only
    unset: Any = ""  # the value when the input is absent and has no default text
    api_root: bool = False  # credentials are sent there: a file may name only Mendix's hosts

    @property
    def flag(self) -> str:
        return f"--{self.name}"

    @property
    def param(self) -> str:
        return self.name.replace("-", "_")

    @property
    def env_names(self) -> list[str]:
        """Environment variables, in precedence order (INPUT_* before MENDIX_*)."""
        upper = self.name.upper()
        snake = upper.replace("-", "_")
        names = [f"INPUT_{upper}"]
        if snake != upper:
            names.append(f"INPUT_{snake}")
        names.append(self.mendix_variable)
        return names

    @property
    def mendix_variable(self) -> str:
        """The MENDIX_* variable it is read from (GitLab, Jenkins, Azure): MENDIX_APP_ID."""
        return f"MENDIX_{self.name.upper().replace('-', '_')}"


INPUTS: tuple[InputSpec, ...] = (
    InputSpec(
        "app-id",
        "App subdomain name, for example 'calc'.",
        required=True,
        parse=plain(parsers.app_id),
    ),
    InputSpec(
        "username",
        "Mendix-Username: the login e-mail of the API key's user.",
        required=True,
        parse=plain(parsers.username),
    ),
    InputSpec(
        "api-key",
        "Mendix-ApiKey. Environment or flag only: a config file holding it is rejected.",
        required=True,
        secret=True,
        in_file=False,
        parse=plain(parsers.api_key),
    ),
    InputSpec(
        "branch",
        "'main' (Git), 'trunk' (SVN) or 'branches/<name>'.",
        default="main",
        parse=plain(parsers.branch),
    ),
    InputSpec(
        "revision",
        "Git commit hash (7-40 hex digits), SVN revision number, or 'latest' (the branch head).",
        required=True,
        parse=plain(parsers.revision),
    ),
    InputSpec(
        "version",
        "Package version, major.minor.patch, or auto / auto-minor / auto-major "
        "(next above the app's highest).",
        required=True,
        parse=plain(parsers.version),
    ),
    InputSpec(
        "description",
        "Package description (the step adds ' [revision <rev>]'). Default: names the CI run "
        "when known.",
        parse=plain(parsers.description),
    ),
    InputSpec(
        "download",
        "Download the .mda after a successful build: true or false. "
        "Default: true; false with package-id.",
        boolean=True,
        parse=plain(parsers.boolean),
        unset=None,
    ),
    InputSpec(
        "artifact-path",
        "Where the .mda goes: a file inside the workspace, relative to it. "
        "Default: <app-id>-<version>.mda.",
        parse=parsers.artifact_path,
        unset=None,
    ),
    InputSpec(
        "timeout",
        "Whole-step deadline: 900, 90s, 15m, 1h or 1h30m.",
        default="1h",
        parse=plain(parsers.timeout),
    ),
    InputSpec(
        "poll-interval",
        "Longest wait between status checks, in seconds (fractions allowed).",
        default="30",
        parse=plain(parsers.poll_interval),
    ),
    InputSpec(
        "base-url",
        "API root. A config file may name only https://mendix.com or a host under it.",
        default=DEFAULT_BASE_URL,
        parse=plain(parsers.base_url),
        api_root=True,
    ),
    InputSpec(
        "config", "Path to a YAML file holding any of these keys (not api-key).", in_file=False
    ),
    InputSpec(
        "result-file",
        "Also write the JSON result to this file inside the workspace.",
        parse=parsers.workspace_path,
        unset=None,
    ),
    InputSpec(
        "log-format",
        "auto, console or json.",
        default="auto",
        parse=plain(parsers.choice(parsers.LOG_FORMATS)),
    ),
    InputSpec(
        "on-existing",
        "When a package with this version exists: reuse, fail or rebuild.",
        default="reuse",
        parse=plain(parsers.choice(parsers.ON_EXISTING)),
    ),
    InputSpec(
        "dry-run",
        "true: check inputs and credentials, print what would be sent, build nothing.",
        default="false",
        boolean=True,
        parse=plain(parsers.boolean),
    ),
    InputSpec(
        "pat",
        "Personal access token: resolve 'revision: latest' through the App Repository API; "
        "start a Mendix Pipelines run (pipeline-run).",
        secret=True,
        in_file=False,
        parse=plain(parsers.token),
        unset=None,
    ),
    InputSpec(
        "project-id",
        "The app's project id (App Repository API and Mendix Pipelines, with pat).",
        parse=plain(parsers.project_id),
    ),
    InputSpec(
        "repository-url",
        "App Repository API root. A config file may name only https://mendix.com or a host "
        "under it.",
        default=DEFAULT_REPOSITORY_URL,
        parse=plain(parsers.base_url),
        api_root=True,
    ),
    InputSpec(
        "environment",
        "Deploy to this environment after the build: Test, Acceptance, Production or a "
        "flexible environment's name. Empty: no deploy.",
        parse=plain(parsers.environment),
    ),
    InputSpec(
        "package-id",
        "Deploy this existing package instead of building one (needs environment).",
        parse=plain(parsers.package_id),
    ),
    InputSpec(
        "auto-sync-db",
        "Synchronise the database with the model when the environment starts: true or false.",
        default="true",
        boolean=True,
        parse=plain(parsers.boolean),
    ),
    InputSpec(
        "stop-timeout",
        "Longest wait for the environment to stop: 90s, 5m, ...",
        default="5m",
        parse=plain(parsers.timeout),
    ),
    InputSpec(
        "start-timeout",
        "Longest wait for the environment to start: 5m, 15m, ...",
        default="15m",
        parse=plain(parsers.timeout),
    ),
    InputSpec(
        "allow-production",
        "Allow deploying to a production environment: true or false.",
        default="false",
        boolean=True,
        parse=plain(parsers.boolean),
    ),
    InputSpec(
        "backup",
        "Take a database snapshot before deploying: auto (when the environment is a "
        "production one), true or false.",
        default="auto",
        boolean=True,
        parse=plain(parsers.backup),
    ),
    InputSpec(
        "rollback",
        "When the start fails after the transport, put back the package that ran before "
        "(and this run's snapshot): true or false.",
        default="false",
        boolean=True,
        parse=plain(parsers.boolean),
    ),
    InputSpec(
        "log-tail",
        "Lines of the app's log shown after a failed start, 0 to 200; 0: none (a log may "
        "hold personal data).",
        default="50",
        parse=plain(parsers.log_tail),
    ),
    InputSpec(
        "settings-file",
        "A YAML file inside the workspace with constants: and scheduled-events: to set on "
        "the environment before it starts.",
        parse=parsers.workspace_path,
        unset=None,
    ),
    InputSpec(
        "settings-variables",
        "The environment variables the settings file may read as ${NAME}: names and "
        "prefixes such as APP_*, separated by commas or spaces. Default: none. The step's "
        "own secrets and the CI's tokens are never read.",
        parse=plain(parsers.settings_variables),
        unset=Allowed(),
    ),
    InputSpec(
        "promote-from",
        "Deploy the package this environment runs (for example Acceptance) to environment; "
        "nothing is built.",
        parse=plain(parsers.environment),
    ),
    InputSpec(
        "unit-tests",
        "After a successful deploy, run the app's unit tests through the Unit Testing "
        "module's remote API: true or false.",
        default="false",
        boolean=True,
        parse=plain(parsers.boolean),
    ),
    InputSpec(
        "unit-tests-password",
        "The Unit Testing module's RemoteApiPassword on the environment. Environment or "
        "flag only: a config file holding it is rejected.",
        secret=True,
        in_file=False,
        parse=plain(gates.password),
        unset=None,
    ),
    InputSpec(
        "unit-tests-url",
        "The app's root URL, where the module serves /unittests/. Default: the environment's "
        "Url. A config file may name only https://mendix.com or a host under it.",
        parse=plain(gates.app_url),
        api_root=True,
    ),
    InputSpec(
        "unit-tests-timeout",
        "Longest wait for the app's unit tests (within timeout): 10m, 30m, 1h, ...",
        default="30m",
        parse=plain(parsers.timeout),
    ),
    InputSpec(
        "junit-file",
        "Where the JUnit XML report of the unit tests goes: a file inside the workspace, "
        "relative to it.",
        default="mendix-unit-tests.xml",
        parse=gates.junit_path,
    ),
    InputSpec(
        "pipeline-id",
        "The Mendix Pipelines pipeline that pipeline-run starts (saved and activated).",
        parse=plain(gates.pipeline_id),
    ),
    InputSpec(
        "pipelines-url",
        "Mendix Pipelines API root. A config file may name only https://mendix.com or a "
        "host under it.",
        default=DEFAULT_PIPELINES_URL,
        parse=plain(parsers.base_url),
        api_root=True,
    ),
)

BY_NAME: dict[str, InputSpec] = {spec.name: spec for spec in INPUTS}
FILE_KEYS: tuple[str, ...] = tuple(spec.name for spec in INPUTS if spec.in_file)

# What GitHub sets for a docker action: INPUT_<NAME> for each input declared in action.yml
# and each key of the step's `with:` (upper case, spaces as underscores); `args` and
# `entrypoint` it always accepts for a container action.
GITHUB_INPUT_VARIABLES = frozenset(
    [name for spec in INPUTS for name in spec.env_names if name.startswith("INPUT_")]
    + ["INPUT_ARGS", "INPUT_ENTRYPOINT"]
)
