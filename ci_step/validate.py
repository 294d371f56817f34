"""Turn raw input strings into a checked Config, reporting every problem at once."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from ci_step.ci_env import CiEnv
from ci_step.durations import parse_duration
from ci_step.errors import ConfigError
from ci_step.inputs import INPUTS

_APP_ID = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_GIT_HASH = re.compile(r"[0-9a-fA-F]{7,40}")
_SVN_REVISION = re.compile(r"[1-9][0-9]{0,9}")
_VERSION = re.compile(r"(\d{1,9})\.(\d{1,9})\.(\d{1,9})")
_PACKAGE_VERSION = re.compile(r"([0-9]{1,9}\.[0-9]{1,9}\.[0-9]{1,9})(?:\.[0-9]{1,9})?")
_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}
MAX_TIMEOUT = 7 * 24 * 3600.0
MAX_OUTPUT_PATH = 1024  # bytes of the artifact-path output
LOG_FORMATS = ("auto", "console", "json")
ON_EXISTING = ("reuse", "fail", "rebuild")
AUTO_VERSIONS = ("auto", "auto-minor", "auto-major")
LATEST = "latest"
_ENVIRONMENT = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9 ._-]{0,62}[A-Za-z0-9])?")
_PACKAGE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_PROJECT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")
BUILD_NEEDS = frozenset(spec.name for spec in INPUTS if spec.required)
APP_NEEDS = frozenset({"app-id", "username", "api-key"})
T = TypeVar("T")


@dataclass(frozen=True)
class RawInput:
    """A value as it arrived, and the name the user gave it (--flag, ENV_VAR, file key)."""

    value: str | None
    label: str


@dataclass(frozen=True)
class Config:
    app_id: str
    username: str
    api_key: str = field(repr=False)  # secrets stay out of any repr
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
    on_existing: str = "reuse"
    dry_run: bool = False
    pat: str | None = field(default=None, repr=False)
    project_id: str = ""
    repository_url: str = ""
    environment: str = ""  # empty: no deploy
    package_id: str = ""  # deploy this package instead of building one
    auto_sync_db: bool = True
    stop_timeout: float = 300.0
    start_timeout: float = 900.0
    allow_production: bool = False

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


class _Checker:
    def __init__(self, raw: Mapping[str, RawInput]) -> None:
        self.raw = raw
        self.problems: list[str] = []

    def value(self, name: str) -> str | None:
        item = self.raw.get(name)
        return item.value if item is not None and item.value != "" else None

    def label(self, name: str) -> str:
        item = self.raw.get(name)
        return item.label if item is not None else name

    def fail(self, name: str, text: str) -> None:
        self.problems.append(f"{self.label(name)} {text}")

    def check(self, name: str, parse: Callable[[str], T], fallback: T) -> T:
        value = self.value(name)
        if value is None:
            return fallback
        try:
            return parse(value)
        except ValueError as exc:
            self.fail(name, str(exc))
            return fallback


def validate(raw: Mapping[str, RawInput], ci: CiEnv, needs: frozenset[str] = BUILD_NEEDS) -> Config:
    """Check every input; ``needs`` names the inputs the command cannot do without."""
    c = _Checker(raw)
    package_id = c.check("package-id", _package_id, "")
    if package_id:  # nothing is built: no revision or version to know
        needs = needs - {"revision", "version"}
    for spec in INPUTS:
        if spec.name in needs and c.value(spec.name) is None:
            c.problems.append(
                f"{spec.name} is required: set {spec.env_names[-1]} or pass {spec.flag}"
                + (" (or add it to the config file)" if spec.in_file else "")
            )
    app_id = c.check("app-id", _app_id, "")
    username = c.check("username", _username, "")
    api_key = c.check("api-key", _api_key, "")
    branch = c.check("branch", _branch, "main")
    revision = c.check("revision", _revision, "")
    version = c.check("version", _version, "")
    description = c.check("description", _description, "") or ci.run_description()
    download = c.check("download", _boolean, not package_id)
    timeout = c.check("timeout", _timeout, 3600.0)
    poll_interval = c.check("poll-interval", _poll_interval, 30.0)
    base_url = c.check("base-url", _base_url, "")
    log_format = c.check("log-format", _choice(LOG_FORMATS), "auto")
    workspace = ci.workspace.resolve()
    artifact_path = c.check("artifact-path", _path_in(workspace, shown_as_output=True), None)
    result_file = c.check("result-file", _path_in(workspace), None)
    on_existing = c.check("on-existing", _choice(ON_EXISTING), "reuse")
    dry_run = c.check("dry-run", _boolean, False)
    pat = c.check("pat", _token, None)
    project_id = c.check("project-id", _project_id, "")
    repository_url = c.check("repository-url", _base_url, "")
    if revision == LATEST and pat and not project_id:
        c.problems.append(
            f"{c.label('project-id')} is required with {c.label('pat')} and revision 'latest': "
            "the App Repository API names the app by its project id"
        )
    environment = c.check("environment", _environment, "")
    auto_sync_db = c.check("auto-sync-db", _boolean, True)
    stop_timeout = c.check("stop-timeout", _timeout, 300.0)
    start_timeout = c.check("start-timeout", _timeout, 900.0)
    allow_production = c.check("allow-production", _boolean, False)
    if package_id and not environment and "environment" not in needs:
        c.fail("package-id", "deploys an existing package: set environment too")
    if environment.lower() == "production" and not allow_production:
        c.fail(
            "environment",
            "is Production; deploying there needs allow-production: true "
            f"({c.label('allow-production')})",
        )
    if c.problems:
        raise ConfigError(c.problems)
    return Config(
        app_id=app_id,
        username=username,
        api_key=api_key,
        branch=branch,
        revision=revision,
        version=version,
        description=description,
        download=download,
        artifact_path=artifact_path,
        timeout=timeout,
        poll_interval=poll_interval,
        base_url=base_url,
        result_file=result_file,
        log_format=log_format,
        workspace=workspace,
        on_existing=on_existing,
        dry_run=dry_run,
        pat=pat,
        project_id=project_id,
        repository_url=repository_url,
        environment=environment,
        package_id=package_id,
        auto_sync_db=auto_sync_db,
        stop_timeout=stop_timeout,
        start_timeout=start_timeout,
        allow_production=allow_production,
    )


def result_file_of(raw: Mapping[str, RawInput], ci: CiEnv) -> Path | None:
    """The result-file path alone, when valid (so a bad input elsewhere still gets one)."""
    item = raw.get("result-file")
    if item is None or not item.value:
        return None
    try:
        return _path_in(ci.workspace)(item.value)
    except ValueError:
        return None


def shown(value: str, limit: int = 60) -> str:
    """A value quoted for a message: escaped, shortened."""
    text = value.encode("unicode_escape").decode("ascii")
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"'{text}'"


def _app_id(value: str) -> str:
    if _APP_ID.fullmatch(value):
        return value
    if _APP_ID.fullmatch(value.lower()):
        raise ValueError(f"must be lower case: use {shown(value.lower())}")
    raise ValueError(
        f"is {shown(value)}; expected the app's subdomain name "
        "(lower-case letters, digits and hyphens, for example 'calc')"
    )


def _username(value: str) -> str:
    if value != value.strip() or _CONTROL.search(value) or len(value) > 254:
        raise ValueError("must be the login e-mail of the API key's user, with no spaces around it")
    return value


def _api_key(value: str) -> str:
    if not _HEADER_SAFE.fullmatch(value) or len(value) > 512:
        # Never echo the value: it is a secret.
        raise ValueError("holds spaces, line breaks or other characters an API key never has")
    return value


def _token(value: str) -> str:
    if not _HEADER_SAFE.fullmatch(value) or len(value) > 4096:
        raise ValueError("holds spaces, line breaks or other characters a token never has")
    return value


def _project_id(value: str) -> str:
    if _PROJECT_ID.fullmatch(value):
        return value
    raise ValueError(f"is {shown(value)}; expected the app's project id (letters, digits, -)")


def _environment(value: str) -> str:
    if _ENVIRONMENT.fullmatch(value):
        return value
    raise ValueError(
        f"is {shown(value)}; expected Test, Acceptance, Production or a flexible "
        "environment's name (letters, digits, spaces, '-', '_' and '.')"
    )


def _package_id(value: str) -> str:
    if _PACKAGE_ID.fullmatch(value):
        return value
    raise ValueError(f"is {shown(value)}; expected a package id such as the package-id output")


def _branch(value: str) -> str:
    if value in ("main", "trunk"):
        return value
    if value.startswith("branches/") and len(value) > len("branches/"):
        if _CONTROL.search(value) or len(value) > 255:
            raise ValueError("holds control characters or is too long")
        return value
    hint = f" (did you mean 'branches/{value}'?)" if "/" not in value else ""
    raise ValueError(
        f"is {shown(value)}; expected 'main' (Git), 'trunk' (SVN) or 'branches/<name>'{hint}"
    )


def _revision(value: str) -> str:
    if value == LATEST or _SVN_REVISION.fullmatch(value) or _GIT_HASH.fullmatch(value):
        return value
    raise ValueError(
        f"is {shown(value)}; expected a Git commit hash (7 to 40 hex digits), "
        "an SVN revision number or 'latest'"
    )


def is_revision(value: str) -> bool:
    return bool(_SVN_REVISION.fullmatch(value) or _GIT_HASH.fullmatch(value))


def _version(value: str) -> str:
    if _VERSION.fullmatch(value) or value in AUTO_VERSIONS:
        return value
    raise ValueError(
        f"is {shown(value)}; expected major.minor.patch (for example 1.4.0), "
        "auto, auto-minor or auto-major"
    )


def parse_version(value: str) -> tuple[int, int, int] | None:
    match = _VERSION.fullmatch(value)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3))


def release_of(version: str) -> str | None:
    """major.minor.patch of a package's Version (a fourth number dropped); None: not one."""
    match = _PACKAGE_VERSION.fullmatch(version)
    return match.group(1) if match else None


def _description(value: str) -> str:
    if len(value) > 1000:
        raise ValueError("is longer than 1000 characters")
    if _CONTROL.search(value.replace("\n", " ").replace("\t", " ")):
        raise ValueError("holds control characters")
    return value


def _boolean(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    raise ValueError(f"is {shown(value)}; expected true or false")


def _timeout(value: str) -> float:
    try:
        seconds = parse_duration(value)
    except ValueError:
        raise ValueError(
            f"is {shown(value)}; expected a duration such as 900, 90s, 15m or 1h"
        ) from None
    if seconds > MAX_TIMEOUT:
        raise ValueError("is longer than 7 days")
    return seconds


def _poll_interval(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0.01 <= seconds <= 3600:
        raise ValueError(f"is {shown(value)}; expected a number of seconds from 0.01 to 3600")
    return seconds


def _choice(options: tuple[str, ...]) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value in options:
            return value
        raise ValueError(f"is {shown(value)}; expected one of {', '.join(options)}")

    return parse


def is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _base_url(value: str) -> str:
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
        _ = parts.port
    except ValueError:
        raise ValueError(f"is {shown(value)}; not a URL") from None
    if parts.scheme not in ("https", "http") or not host:
        raise ValueError(
            f"is {shown(value)}; expected an https:// URL such as https://deploy.mendix.com"
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError("must not carry credentials, a query or a fragment")
    if parts.scheme == "http" and not is_loopback(host):
        raise ValueError(
            f"is {shown(value)}; plain http would send the API key unencrypted: use https "
            "(http is accepted only for loopback addresses)"
        )
    if _CONTROL.search(value):
        raise ValueError("holds control characters")
    return value.rstrip("/")


def _path_in(workspace: Path, *, shown_as_output: bool = False) -> Callable[[str], Path]:
    """A file inside the workspace, symlinks and '..' resolved.

    The step writes only there: in a container only the workspace is shared with the
    job. ``shown_as_output``: an output names the file (relative to the workspace), so
    that text must survive every CI's output format unchanged.
    """
    root = workspace.resolve()

    def parse(value: str) -> Path:
        if _CONTROL.search(value) or len(value) > 4096:
            raise ValueError("holds control characters or is too long")
        try:
            resolved = (root / value).resolve()  # an absolute value replaces the root
            is_dir = resolved.is_dir()
        except RuntimeError:  # a symlink loop
            raise ValueError(f"is {shown(value)}; not a usable path (symlink loop)") from None
        except OSError as exc:
            raise ValueError(f"is {shown(value)}; not a usable path ({exc.strerror})") from None
        if not resolved.is_relative_to(root):
            raise ValueError(
                f"is {shown(value)}, outside the workspace {root}: the step writes only in "
                "the workspace (in a container nothing else is shared with the job); "
                "name a path relative to it"
            )
        if value.endswith(("/", "\\")) or is_dir:
            raise ValueError(f"is {shown(value)}, a directory; name a file")
        relative = str(resolved.relative_to(root))
        if shown_as_output and relative != relative.strip():
            raise ValueError(
                f"is {shown(value)}, which starts or ends with spaces: GitLab's dotenv report "
                "strips them, so the artifact-path output would name another file; "
                "remove them"
            )
        if shown_as_output and len(relative.encode("utf-8")) > MAX_OUTPUT_PATH:
            raise ValueError(
                f"is longer than {MAX_OUTPUT_PATH} bytes within the workspace: too long for "
                "the artifact-path output (GitLab's dotenv report stays under 5 KiB)"
            )
        return resolved

    return parse
