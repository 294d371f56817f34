"""Turn raw input strings into a checked Config, reporting every problem at once."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ci_step.config import gates
from ci_step.config.inputs import GITHUB_INPUT_VARIABLES, INPUTS, InputSpec
from ci_step.config.parsers import Parse, closest, escaped, shown, workspace_path
from ci_step.domain.app_settings import Allowed, Settings
from ci_step.domain.versions import LATEST
from ci_step.errors import ConfigError, Correction, input_name, spelled
from ci_step.report.ci_env import CiEnv, Platform

BUILD_NEEDS = frozenset(spec.name for spec in INPUTS if spec.required)
APP_NEEDS = frozenset({"app-id", "username", "api-key"})


@dataclass(frozen=True)
class RawInput:
    """A value as it arrived, and the name the user gave it (--flag, ENV_VAR, file key)."""

    value: str | None
    label: str


@dataclass(frozen=True)
class Config:
    app_id: str
    username: str
    api_key: str = field(repr=False)  # a secret: never in a repr
    branch: str
    revision: str
    version: str
    description: str
    download: bool
    artifact_path: Path | None  # None: <app-id>-<version>.mda in the workspace
    timeout: float
    poll_interval: float
    base_url: str
    result_file: Path | None
    log_format: str
    workspace: Path
    on_existing: str
    dry_run: bool
    pat: str | None = field(repr=False)
    project_id: str
    repository_url: str
    environment: str  # empty: no deploy
    package_id: str  # deploy this package instead of building one
    auto_sync_db: bool
    stop_timeout: float
    start_timeout: float
    allow_production: bool
    backup: str  # auto, true or false
    rollback: bool
    log_tail: int  # lines of the app's log shown after a failed start; 0: none
    settings_file: Path | None
    settings_variables: Allowed  # what ${NAME} in the settings file may read
    promote_from: str  # deploy the package this environment runs; nothing is built
    settings: Settings | None = None  # the settings file, read and checked
    # the gates after a deploy (ci_step.config.gates)
    unit_tests: bool = False  # run the app's unit tests after a successful deploy
    unit_tests_password: str | None = field(default=None, repr=False)
    unit_tests_url: str = ""  # the app's root URL; "": the environment's Url
    unit_tests_timeout: float = 1800.0
    junit_file: Path = Path("mendix-unit-tests.xml")
    pipeline_id: str = ""  # the Mendix Pipelines pipeline pipeline-run starts
    pipelines_url: str = ""

    def artifact_for(self, version: str) -> Path:
        return self.artifact_path or self.workspace / f"{self.app_id}-{version}.mda"

    def shown_path(self, path: Path) -> str:
        """A path as outputs give it: relative to the workspace when inside it.

        Inside a container the workspace is mounted at another path than on the
        host (GitHub: /github/workspace), so a relative path is right on both.
        """
        try:
            return str(path.relative_to(self.workspace))
        except ValueError:
            return str(path)


# An Azure Pipelines macro, `$(NAME)`: one the pipeline cannot resolve is passed on as written.
_AZURE_MACRO = re.compile(r"\$\(([A-Za-z0-9_.-]+)\)")


class _Checker:
    def __init__(self, raw: Mapping[str, RawInput], ci: CiEnv) -> None:
        self.raw = raw
        self.workspace = ci.workspace.resolve()
        self.azure = ci.platform is Platform.AZURE
        # The labels of inputs the CI names otherwise than the variable that brought them:
        # GitHub's INPUT_TIMEOUT is `with: timeout:`, an Azure step's MENDIX_TIMEOUT is
        # `env: MENDIX_TIMEOUT:` (see ci_step.config.spelling).
        self.respelled = ("INPUT_", "MENDIX_") if self.azure else ("INPUT_",)
        self.problems: list[str] = []
        self.corrections: list[Correction] = []

    def value(self, name: str) -> str | None:
        item = self.raw.get(name)
        return item.value if item is not None and item.value != "" else None

    def label(self, name: str) -> str:
        """The input as the user gave it; one not given as the CI sets it. A GitHub input
        is named as written in the workflow, quoted to read as one name (`with: timeout:`),
        and so is an Azure one (`env: MENDIX_TIMEOUT:`)."""
        item = self.raw.get(name)
        if item is None or item.value in (None, ""):
            return spelled(name)
        return input_name(name) if item.label.startswith(self.respelled) else item.label

    def fail(self, name: str, text: str, correction: Correction | None = None) -> None:
        """A problem with input ``name``; ``correction``: what to do, if not to correct it."""
        self.problems.append(f"{self.label(name)} {text}")
        self.corrections.append(correction or ("correct", input_name(name)))

    def missing(self, text: str, name: str) -> None:
        """A problem fixed by setting input ``name``."""
        self.problems.append(text)
        self.corrections.append(("set", input_name(name)))

    def parse(self, spec: InputSpec, parse: Parse) -> Any:
        """The input's value as given, else its default; the ``unset`` value when it is bad."""
        value = self.value(spec.name)
        if value is not None and self.azure and self.unresolved(spec.name, value):
            return spec.unset
        if value is None:
            value = spec.default
        if value is None:
            return spec.unset
        try:
            return parse(value, self.workspace)
        except ValueError as exc:
            self.fail(spec.name, str(exc))
            return spec.unset

    def unresolved(self, name: str, value: str) -> bool:
        """Azure Pipelines passes a `$(NAME)` whose variable the job does not have on as
        written (a secret variable not defined, a variable group not linked): that is never
        the value meant. The value is not shown: it stands in for a secret."""
        match = _AZURE_MACRO.fullmatch(value.strip())
        if match is None:
            return False
        variable = match.group(1)
        self.fail(
            name,
            f"is a `$(…)` naming the pipeline variable {variable}, which this job does not "
            "have (Azure Pipelines passes such a reference on as written)",
            ("define", f"the variable {variable} for this job"),
        )
        return True

    def require(self, needs: frozenset[str], ci: CiEnv) -> None:
        for spec in INPUTS:
            if spec.name not in needs or self.value(spec.name) is not None:
                continue
            if ci.platform is Platform.LOCAL:
                how = f"set {spec.mendix_variable} or pass {spec.flag}" + (
                    " (or add it to the config file)" if spec.in_file else ""
                )
            else:
                how = f"set {spelled(spec.name)}"
            self.missing(f"{spec.name} is required: {how}", spec.name)

    def unknown_inputs(self, ci: CiEnv) -> None:
        """GitHub hands each key of the step's `with:` over as INPUT_<KEY>: one that is not
        an input is a mistyped key, whose value would be silently ignored."""
        if ci.platform is not Platform.GITHUB:
            return
        names = tuple(spec.name for spec in INPUTS)
        for variable in sorted(ci.env):
            if not variable.startswith("INPUT_") or variable in GITHUB_INPUT_VARIABLES:
                continue
            key = f"`with: {escaped(variable.removeprefix('INPUT_').lower())}:`"
            matches = closest(variable.removeprefix("INPUT_"), names)
            if matches:
                meant = " or ".join(f"`{m}`" for m in matches)
                self.problems.append(f"{key} is not an input of this step: did you mean {meant}?")
                self.corrections.append(("rename", f"{key} to {meant}"))
            else:
                self.problems.append(
                    f"{key} is not an input of this step (they are listed in action.yml)"
                )
                self.corrections.append(("remove", key))


def validate(raw: Mapping[str, RawInput], ci: CiEnv, needs: frozenset[str] = BUILD_NEEDS) -> Config:
    """Check every input; ``needs`` names the inputs the command cannot do without."""
    c = _Checker(raw, ci)
    workspace = c.workspace
    values = {spec.param: c.parse(spec, spec.parse) for spec in INPUTS if spec.parse is not None}
    if values["package_id"] or values["promote_from"]:  # nothing is built
        needs = needs - {"revision", "version"}
    if values["promote_from"]:  # the package is the one the other environment runs
        needs = needs - {"package-id"}
    c.require(gates.needs(values, needs), ci)
    c.unknown_inputs(ci)
    _cross_check(c, values, needs)
    gates.cross_check(c, values, needs)
    _promotion_check(c, values, needs)
    settings = _settings(c, values, ci)
    if c.problems:
        raise ConfigError(c.problems, c.corrections)
    values["description"] = values["description"] or ci.run_description()
    if values["download"] is None:
        values["download"] = not (values["package_id"] or values["promote_from"])
    return Config(workspace=workspace, settings=settings, **values)


def _settings(c: _Checker, values: dict[str, Any], ci: CiEnv) -> Settings | None:
    """The settings file, read when there is a deploy to use it (a build-only job sharing
    the config file need not have the variables it reads)."""
    path = values["settings_file"]
    if path is None or not values["environment"]:
        return None
    from ci_step.config import settings_file  # the YAML reader, only with a settings file

    own = {values[spec.param]: spec.name for spec in INPUTS if spec.secret and values[spec.param]}
    variables = settings_file.Variables(ci.env, values["settings_variables"], own)
    given = c.value("settings-file") or str(path)
    settings, problems = settings_file.load(path, given, variables)
    c.problems.extend(problems)
    if problems:
        c.corrections.append(("correct", f"settings file {escaped(given)}"))
    return settings


def _promotion_check(c: _Checker, values: dict[str, Any], needs: frozenset[str]) -> None:
    source, environment = values["promote_from"], values["environment"]
    if not source:
        return
    if not environment and "environment" not in needs:
        c.fail(
            "promote-from",
            f"deploys the package another environment runs: set {c.label('environment')} "
            "to the environment to deploy it to",
            ("set", input_name("environment")),
        )
    if environment and source.casefold() == environment.casefold():
        c.fail(
            "promote-from",
            f"is {shown(source)}, the environment deployed to ({c.label('environment')}): "
            "name the environment whose package to deploy, such as Acceptance",
        )
    if values["package_id"]:
        c.fail(
            "promote-from",
            f"and {c.label('package-id')} both name the package to deploy: set only one",
        )


def _cross_check(c: _Checker, values: dict[str, Any], needs: frozenset[str]) -> None:
    """The rules that tie inputs together."""
    if values["revision"] == LATEST and values["pat"] and not values["project_id"]:
        c.missing(
            f"{c.label('project-id')} is required with {c.label('pat')} and revision 'latest': "
            "the App Repository API names the app by its project id",
            "project-id",
        )
    environment = values["environment"]
    if values["package_id"] and not environment and "environment" not in needs:
        c.fail(
            "package-id",
            f"deploys an existing package: set {c.label('environment')} too",
            ("set", input_name("environment")),
        )
    if environment.lower() == "production" and not values["allow_production"]:
        allow = input_name("allow-production", "true")
        c.fail(
            "environment",
            f"is Production; deploying there needs {allow}",
            ("set", f"{allow} (or deploy elsewhere)"),
        )


def result_file_of(raw: Mapping[str, RawInput], ci: CiEnv) -> Path | None:
    """The result-file path alone, when valid (so a bad input elsewhere still gets one)."""
    item = raw.get("result-file")
    if item is None or not item.value:
        return None
    try:
        return workspace_path(item.value, ci.workspace)
    except ValueError:
        return None
