"""Checks of single input values: each takes the text as given and returns the typed value,
or raises ValueError with what is wrong (the caller adds the input's name)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ci_step.controls import CONTROL
from ci_step.domain.app_settings import VARIABLE, Allowed
from ci_step.domain.durations import parse_duration
from ci_step.domain.hosts import is_https_or_loopback
from ci_step.domain.ids import PACKAGE_ID
from ci_step.domain.versions import AUTO_VERSIONS, LATEST, VERSION, is_revision

_APP_ID = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")
_ENVIRONMENT = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9 ._-]{0,62}[A-Za-z0-9])?")
_PROJECT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")
_LIST = re.compile(r"[\s,]+")
MAX_TIMEOUT = 7 * 24 * 3600.0
MAX_OUTPUT_PATH = 1024  # bytes of the artifact-path output
MAX_LOG_TAIL = 200  # lines of the app's log shown after a failed start
LOG_FORMATS = ("auto", "console", "json")
ON_EXISTING = ("reuse", "fail", "rebuild")
BACKUP = ("auto", "true", "false")
T = TypeVar("T")
Parse = Callable[[str, Path], Any]  # (text, workspace) -> value


def plain(parse: Callable[[str], T]) -> Callable[[str, Path], T]:
    """A check that needs only the text (most do), shaped like one that needs the workspace."""

    def with_workspace(value: str, _workspace: Path) -> T:
        return parse(value)

    return with_workspace


def shown(value: str, limit: int = 60) -> str:
    """A value quoted for a message: escaped, shortened."""
    return f"'{escaped(value, limit)}'"


def escaped(value: str, limit: int = 60) -> str:
    """A value for a message: every control or non-ASCII character as its Python escape
    (``\\n``, ``\\x1b``), shortened (ci_step.inert.printable turns them into spaces)."""
    text = value.encode("unicode_escape").decode("ascii")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def closest(key: str, known: tuple[str, ...]) -> list[str]:
    """The known names an unknown key was most likely meant to be (at most two)."""
    import difflib  # only when an unknown key was given

    return difflib.get_close_matches(key.lower().replace("_", "-"), known, n=2, cutoff=0.6)


def close_matches(key: str, known: tuple[str, ...]) -> str:
    """' (did you mean ...?)' for an unknown key, else the known keys."""
    matches = closest(key, known)
    if not matches:
        return f" (known keys: {', '.join(known)})"
    return " (did you mean " + " or ".join(f"'{m}'" for m in matches) + "?)"


def app_id(value: str) -> str:
    if _APP_ID.fullmatch(value):
        return value
    if _APP_ID.fullmatch(value.lower()):
        raise ValueError(f"must be lower case: use {shown(value.lower())}")
    raise ValueError(
        f"is {shown(value)}; expected the app's subdomain name "
        "(lower-case letters, digits and hyphens, for example 'calc')"
    )


def username(value: str) -> str:
    if value != value.strip() or CONTROL.search(value) or len(value) > 254:
        raise ValueError("must be the login e-mail of the API key's user, with no spaces around it")
    return value


def api_key(value: str) -> str:
    if not _HEADER_SAFE.fullmatch(value) or len(value) > 512:
        # Never echo the value: it is a secret.
        raise ValueError("holds spaces, line breaks or other characters an API key never has")
    return value


def token(value: str) -> str:
    if not _HEADER_SAFE.fullmatch(value) or len(value) > 4096:
        raise ValueError("holds spaces, line breaks or other characters a token never has")
    return value


def project_id(value: str) -> str:
    if _PROJECT_ID.fullmatch(value):
        return value
    raise ValueError(f"is {shown(value)}; expected the app's project id (letters, digits, -)")


def environment(value: str) -> str:
    if _ENVIRONMENT.fullmatch(value):
        return value
    raise ValueError(
        f"is {shown(value)}; expected Test, Acceptance, Production or a flexible "
        "environment's name (letters, digits, spaces, '-', '_' and '.')"
    )


def package_id(value: str) -> str:
    if PACKAGE_ID.fullmatch(value):
        return value
    raise ValueError(f"is {shown(value)}; expected a package id such as the package-id output")


def branch(value: str) -> str:
    if value in ("main", "trunk"):
        return value
    if value.startswith("branches/") and len(value) > len("branches/"):
        if CONTROL.search(value) or len(value) > 255:
            raise ValueError("holds control characters or is too long")
        return value
    hint = f" (did you mean 'branches/{value}'?)" if "/" not in value else ""
    raise ValueError(
        f"is {shown(value)}; expected 'main' (Git), 'trunk' (SVN) or 'branches/<name>'{hint}"
    )


def revision(value: str) -> str:
    if value == LATEST or is_revision(value):
        return value
    raise ValueError(
        f"is {shown(value)}; expected a Git commit hash (7 to 40 hex digits), "
        "an SVN revision number or 'latest'"
    )


def version(value: str) -> str:
    if VERSION.fullmatch(value) or value in AUTO_VERSIONS:
        return value
    raise ValueError(
        f"is {shown(value)}; expected major.minor.patch (for example 1.4.0), "
        "auto, auto-minor or auto-major"
    )


def description(value: str) -> str:
    if len(value) > 1000:
        raise ValueError("is longer than 1000 characters")
    if CONTROL.search(value.replace("\n", " ").replace("\t", " ")):
        raise ValueError("holds control characters")
    return value


def settings_variables(value: str) -> Allowed:
    """Names and prefixes (``APP_*``), separated by commas or spaces; none: nothing."""
    names: set[str] = set()
    prefixes: list[str] = []
    for item in _LIST.split(value.strip()):
        if not item:
            continue
        if item == "*":
            raise ValueError(
                "is '*'; name the variables a settings file may read, or prefixes such as "
                "APP_*: it never reads every variable of the job"
            )
        name = item.removesuffix("*")
        if not VARIABLE.fullmatch(name):
            raise ValueError(
                f"holds {shown(item)}; expected variable names (letters, digits and _) or "
                "prefixes such as APP_*, separated by commas or spaces"
            )
        if item.endswith("*"):
            prefixes.append(name)
        else:
            names.add(name)
    return Allowed(frozenset(names), tuple(prefixes))


def boolean(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    raise ValueError(f"is {shown(value)}; expected true or false")


def backup(value: str) -> str:
    lowered = value.strip().lower()
    if lowered in BACKUP:
        return lowered
    raise ValueError(
        f"is {shown(value)}; expected auto (a snapshot before deploying to a production "
        "environment), true or false"
    )


def timeout(value: str) -> float:
    try:
        seconds = parse_duration(value)
    except ValueError:
        raise ValueError(
            f"is {shown(value)}; expected a duration such as 900, 90s, 15m or 1h"
        ) from None
    if seconds > MAX_TIMEOUT:
        raise ValueError("is longer than 7 days")
    return seconds


def poll_interval(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0.01 <= seconds <= 3600:
        raise ValueError(f"is {shown(value)}; expected a number of seconds from 0.01 to 3600")
    return seconds


def log_tail(value: str) -> int:
    text = value.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 3) or int(text) > MAX_LOG_TAIL:
        raise ValueError(
            f"is {shown(value)}; expected a number of lines from 0 (none) to {MAX_LOG_TAIL}"
        )
    return int(text)


def choice(options: tuple[str, ...]) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value in options:
            return value
        raise ValueError(f"is {shown(value)}; expected one of {', '.join(options)}")

    return parse


def base_url(value: str) -> str:
    return http_root(value, "an https:// URL such as https://deploy.mendix.com", "the API key")


def http_root(value: str, expected: str, sent: str) -> str:
    """A root URL the step sends ``sent`` (a secret) to: https, or plain http to a loopback
    address; no credentials, query or fragment; ``expected``: what to give instead."""
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
        _ = parts.port
    except ValueError:
        raise ValueError(f"is {shown(value)}; not a URL") from None
    if parts.scheme not in ("https", "http") or not host:
        raise ValueError(f"is {shown(value)}; expected {expected}")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError("must not carry credentials, a query or a fragment")
    if not is_https_or_loopback(parts.scheme, host):
        raise ValueError(
            f"is {shown(value)}; plain http would send {sent} unencrypted: use https "
            "(http is accepted only for loopback addresses)"
        )
    if CONTROL.search(value):
        raise ValueError("holds control characters")
    return value.rstrip("/")


def workspace_path(value: str, workspace: Path) -> Path:
    """A file inside the workspace, symlinks and '..' resolved.

    The step writes only there: in a container only the workspace is shared with the job.
    """
    if CONTROL.search(value) or len(value) > 4096:
        raise ValueError("holds control characters or is too long")
    root = workspace.resolve()
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
    return resolved


def artifact_path(value: str, workspace: Path) -> Path:
    """A workspace file whose name an output carries: it must survive every CI's format."""
    resolved = workspace_path(value, workspace)
    relative = str(resolved.relative_to(workspace.resolve()))
    if relative != relative.strip():
        raise ValueError(
            f"is {shown(value)}, which starts or ends with spaces: GitLab's dotenv report "
            "strips them, so the artifact-path output would name another file; remove them"
        )
    if len(relative.encode("utf-8")) > MAX_OUTPUT_PATH:
        raise ValueError(
            f"is longer than {MAX_OUTPUT_PATH} bytes within the workspace: too long for "
            "the artifact-path output (GitLab's dotenv report stays under 5 KiB)"
        )
    return resolved
