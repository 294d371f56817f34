"""The inputs of the gates after a deploy (the app's unit tests, Mendix Pipelines runs): the
checks of their single values, and the rules that tie them to the other inputs.

The unit-test password goes to the app's URL only: that URL is https, or plain http to a
loopback address when base-url is one too (the simulator), as a package's storage host is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from ci_step.config.parsers import MAX_OUTPUT_PATH, http_root, shown, workspace_path
from ci_step.controls import CONTROL
from ci_step.domain.hosts import is_loopback_http
from ci_step.domain.ids import PIPELINE_ID
from ci_step.errors import Correction, input_name

MAX_PASSWORD = 1024
# What the `unit-tests` command asks for (see ci_step.cli): the inputs it cannot do without.
UNIT_TESTS_NEEDS = frozenset({"unit-tests-password"})
PIPELINE_NEEDS = frozenset({"pipeline-id", "project-id", "pat"})
_READ_URL = frozenset({"app-id", "username", "api-key"})  # to read the environment's Url


def password(value: str) -> str:
    """The module's RemoteApiPassword: sent in a JSON body, so any text but control
    characters (never echoed: it is a secret)."""
    if CONTROL.search(value) or len(value) > MAX_PASSWORD:
        raise ValueError(
            "holds line breaks or other control characters, or is longer than "
            f"{MAX_PASSWORD} characters: a RemoteApiPassword never is"
        )
    return value


def pipeline_id(value: str) -> str:
    if PIPELINE_ID.fullmatch(value):
        return value
    raise ValueError(
        f"is {shown(value)}; expected a pipeline's id (letters, digits, '-', '_' and '.'), "
        "as the pipeline's page in the Mendix Portal shows it"
    )


def app_url(value: str) -> str:
    """The app's root URL: https, or plain http to a loopback address (the cross-check
    then wants base-url on loopback too); no credentials, query or fragment."""
    return http_root(
        value,
        "the app's https:// URL, such as https://calc-test.mendixcloud.com",
        "the unit-test password",
    )


def junit_path(value: str, workspace: Path) -> Path:
    """A workspace file whose name the junit-file output carries: it must survive every
    CI's format (GitLab's dotenv report strips spaces around a value)."""
    resolved = workspace_path(value, workspace)
    relative = str(resolved.relative_to(workspace.resolve()))
    if relative != relative.strip():
        raise ValueError(
            f"is {shown(value)}, which starts or ends with spaces: GitLab's dotenv report "
            "strips them, so the junit-file output would name another file; remove them"
        )
    if len(relative.encode("utf-8")) > MAX_OUTPUT_PATH:
        raise ValueError(
            f"is longer than {MAX_OUTPUT_PATH} bytes within the workspace: too long for the "
            "junit-file output"
        )
    return resolved


class Checker(Protocol):
    """What the rules need of validate's checker: name an input, report a problem."""

    def label(self, name: str) -> str: ...

    def fail(self, name: str, text: str, correction: Correction | None = None) -> None: ...

    def missing(self, text: str, name: str) -> None: ...


def testing(values: dict[str, Any], needs: frozenset[str]) -> bool:
    """Will the app's unit tests run: after the deploy (unit-tests: true), or as the
    `unit-tests` command?"""
    return bool(values["unit_tests"]) or needs >= UNIT_TESTS_NEEDS


def needs(values: dict[str, Any], needs: frozenset[str]) -> frozenset[str]:
    """``needs`` and what the unit tests add: the password, and the credentials that read
    the environment's Url when no unit-tests-url is given."""
    if not testing(values, needs):
        return needs
    needs = needs | UNIT_TESTS_NEEDS
    if values["environment"] and not values["unit_tests_url"]:
        needs = needs | _READ_URL
    return needs


def cross_check(c: Checker, values: dict[str, Any], needs: frozenset[str]) -> None:
    """The rules that tie the unit tests' inputs to the others."""
    if not testing(values, needs):
        return
    command = needs >= UNIT_TESTS_NEEDS
    environment, url = values["environment"], values["unit_tests_url"]
    if command and not environment and not url:
        c.missing(
            f"`mendix-build unit-tests` needs {c.label('environment')} (whose Url the Deploy "
            f"API gives) or {c.label('unit-tests-url')} (the app's root URL)",
            "environment",
        )
    elif not command and not environment and "environment" not in needs:
        c.fail(
            "unit-tests",
            "runs the app's unit tests after a deploy: set "
            f"{c.label('environment')} too, or run `mendix-build unit-tests` for an "
            "environment that already runs",
            ("set", input_name("environment")),
        )
    scheme = urlsplit(url).scheme if url else ""
    if scheme == "http" and not is_loopback_http(values["base_url"] or ""):
        c.fail(
            "unit-tests-url",
            "is plain http: the unit-test password goes over plain http only to a loopback "
            f"address, and only when {c.label('base-url')} is one too (a local stand-in); "
            "use the app's https URL",
        )
