"""The step's exception hierarchy; each class carries its exit code and result.

Code raises these; only the command-line edge turns them into exit codes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, Self

BUILD_API_DOCS = "https://docs.mendix.com/apis/build-api/"
DEPLOY_API_DOCS = "https://docs.mendix.com/apidocs-mxsdk/apidocs/deploy-api/"
README_DOCS = "the mendix-build README"
MANUAL_DOCS = "the mendix-build manual"

# (input name, value or None) -> how the user sets that input where the step runs
Speller = Callable[[str, "str | None"], str]


def _as_named(name: str, value: str | None) -> str:
    return name if value is None else f"{name}: {value}"


_speller: list[Speller] = [_as_named]


def spelled(name: str, value: str | None = None) -> str:
    """An input as the user sets it where the step runs (see ``input_name``), unquoted."""
    return _speller[-1](name, value)


def input_name(name: str, value: str | None = None) -> str:
    """An input as the user sets it where the step runs, quoted for a message.

    Errors are raised where the CI is unknown; the edge installs the speller that knows
    it (``spelling``): `with: timeout:` in GitHub Actions, `MENDIX_TIMEOUT` in GitLab and
    Jenkins, `--timeout` when it was given as a flag. ``value``: the setting to suggest
    (`with: allow-production: true`, `MENDIX_ALLOW_PRODUCTION=true`)."""
    return f"`{spelled(name, value)}`"


@contextmanager
def spelling(speller: Speller) -> Iterator[None]:
    """Name inputs through ``speller`` in every message made meanwhile."""
    _speller.append(speller)
    try:
        yield
    finally:
        _speller.pop()


class StepError(Exception):
    """Base of every expected failure: a message (cause), a fix and where to read."""

    exit_code: ClassVar[int] = 70
    result: ClassVar[str] = "error"
    default_fix: ClassVar[str] = ""
    default_docs: ClassVar[str] = README_DOCS

    def __init__(
        self, message: str, *, fix: str = "", docs: str = "", error_code: str = ""
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix or self.standard_fix()
        self.docs = docs or self.default_docs
        self.error_code = error_code  # the Mendix errorCode behind it, when there was one

    @classmethod
    def standard_fix(cls) -> str:
        """The fix when the raiser gives none (made now: it may name an input)."""
        return cls.default_fix

    def redacted(self, clean: Callable[[str], str]) -> Self:
        """A copy whose texts passed ``clean`` (before any format escapes them)."""
        copy = type(self).__new__(type(self))
        copy.__dict__.update(self.__dict__)
        copy.args = tuple(clean(a) if isinstance(a, str) else a for a in self.args)
        copy.message, copy.fix, copy.docs, copy.error_code = (
            clean(self.message),
            clean(self.fix),
            clean(self.docs),
            clean(self.error_code),
        )
        return copy

    def lines(self) -> list[str]:
        """Cause, fix and where to read more, one sentence each."""
        out = [self.message]
        if self.fix:
            out.append(f"Fix: {self.fix}")
        if self.docs:
            out.append(f"More: {self.docs}")
        return out

    def one_line(self) -> str:
        """``lines()`` as the one line of an annotation: each part but the last ends as a
        sentence, so the fix does not run into "More:"."""
        parts = self.lines()
        closed = [p if p.endswith((".", ":", "!", "?")) else f"{p}." for p in parts[:-1]]
        return " ".join([*closed, *parts[-1:]])


# What to do and to what, for a fix: ("set", "`with: version:`")
Correction = tuple[str, str]


def _joined(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def corrections_fix(corrections: Sequence[Correction]) -> str:
    """One sentence naming what to change: 'set `A`; correct `B` and `C`'."""
    by_verb: dict[str, list[str]] = {}
    for verb, subject in corrections:
        subjects = by_verb.setdefault(verb, [])
        if subject not in subjects:
            subjects.append(subject)
    return "; ".join(f"{verb} {_joined(subjects)}" for verb, subjects in by_verb.items())


class ConfigError(StepError):
    """One or more inputs are missing or invalid; nothing was sent.

    ``corrections``: what to do about each problem, naming the input (or file) as the
    user sets it, so the fix stands on its own (in the annotation, the result file)."""

    exit_code = 2
    default_fix = "correct each input this message names, as it says"
    default_docs = f"{MANUAL_DOCS}: docs/inputs.md"

    def __init__(self, problems: list[str], corrections: Sequence[Correction] = ()) -> None:
        self.problems = problems
        self.corrections = list(corrections)
        if len(problems) == 1:
            text = f"Invalid configuration: {problems[0]}"
        else:
            text = f"Invalid configuration ({len(problems)} problems): " + "; ".join(problems)
        super().__init__(text, fix=corrections_fix(self.corrections))

    def joined(self, later: ConfigError) -> ConfigError:
        """These problems and then ``later``'s, in one error."""
        return ConfigError(self.problems + later.problems, self.corrections + later.corrections)

    def redacted(self, clean: Callable[[str], str]) -> Self:
        copy = super().redacted(clean)
        copy.problems = [clean(problem) for problem in self.problems]
        return copy

    def lines(self) -> list[str]:
        if len(self.problems) < 2:
            return super().lines()
        head = [f"Invalid configuration ({len(self.problems)} problems):"]
        return head + [f"- {p}" for p in self.problems] + super().lines()[1:]


class BuildFailed(StepError):
    """The Build API reported the package as Failed."""

    exit_code = 1
    result = "failure"
    default_fix = (
        "open the app's package list in the Mendix Portal to read the build log; "
        "check that the revision exists on the branch and was committed by Studio Pro"
    )
    default_docs = BUILD_API_DOCS


class AuthError(StepError):
    """401 or 403 from the API: never retried."""

    exit_code = 3
    default_docs = "https://docs.mendix.com/apis/authentication/"


class DeadlineExceeded(StepError):
    """The whole-step deadline passed before a terminal status."""

    exit_code = 4
    result = "timeout"

    @classmethod
    def standard_fix(cls) -> str:
        return f"raise {input_name('timeout')}, or look at the build queue in the Mendix Portal"


class ApiError(StepError):
    """The API rejected the request (4xx) with a Mendix error code."""

    exit_code = 5
    default_docs = BUILD_API_DOCS

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_code: str = "",
        fix: str = "",
        docs: str = "",
    ) -> None:
        super().__init__(message, fix=fix, docs=docs, error_code=error_code)
        self.status = status


class ApiUnavailable(ApiError):
    """The API stayed unreachable or kept answering 5xx/429 until retries ran out."""

    @classmethod
    def standard_fix(cls) -> str:
        return f"check https://status.mendix.com and {input_name('base-url')}, then re-run the job"


class DownloadError(StepError):
    """Fetching the .mda failed or its bytes did not verify."""

    exit_code = 6
    default_fix = "re-run the job; the package stays available on the Mendix side"


class DeployFailed(StepError):
    """The deploy (stop, transport, start) failed; the package itself is fine."""

    exit_code = 7
    result = "failure"
    default_fix = "read the environment's log in the Mendix Portal, then deploy the package again"
    default_docs = DEPLOY_API_DOCS


class UnitTestsFailed(StepError):
    """The app's unit tests ran to the end and some failed; the deploy itself succeeded."""

    exit_code = 8
    result = "failure"
    default_fix = (
        "read the failed tests in the JUnit report or the step summary, fix them in Studio "
        "Pro (the Unit Testing module's page runs them one by one), then deploy again"
    )
    default_docs = "the mendix-build docs, page 'Unit tests'"


class PipelineFailed(StepError):
    """A Mendix Pipelines run ended FAILED."""

    exit_code = 1
    result = "failure"
    default_fix = (
        "open the run in the Mendix Portal (the app's Pipelines page) to see which step failed"
    )
    default_docs = "the mendix-build docs, page 'Mendix Pipelines'"


class Cancelled(StepError):
    """A signal asked the step to stop."""

    result = "cancelled"
    default_docs = ""

    def __init__(self, signum: int, name: str, on_mendix: str = "") -> None:
        going_on = on_mendix or "nothing the step started is running on the Mendix side"
        super().__init__(f"Stopped by {name}: {going_on}.")
        self.signum = signum

    @property
    def code(self) -> int:
        return 128 + self.signum


class OutputError(StepError):
    """An output value cannot be written safely in a CI's format."""

    exit_code = 2
    default_fix = "use values without line breaks or control characters"


def exit_code_of(error: StepError) -> int:
    if isinstance(error, Cancelled):
        return error.code
    return error.exit_code


_CODE_KEYS = ("errorCode", "error_code", "code")
_TEXT_KEYS = ("errorMessage", "error_message", "message", "detail")


def read_error_body(body: Mapping[str, Any] | None) -> tuple[str, str]:
    """(error code, message) of a Mendix error body, '' when absent.

    v1 writes ``{"errorCode", "errorMessage"}``; newer APIs may write ``code``/``message``,
    snake case, or nest them under ``error``: each is read.
    """
    if not body:
        return "", ""
    nested = body.get("error")
    if isinstance(nested, Mapping):
        code, text = read_error_body(nested)
        if code or text:
            return code, text
    return _first(body, _CODE_KEYS), _first(body, _TEXT_KEYS)


def _first(body: Mapping[str, Any], keys: tuple[str, ...]) -> str:
    for key in keys:
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


@dataclass(frozen=True)
class OldLibrary:
    """A library the step imports, missing (``installed`` None) or older than ``needed``."""

    name: str
    installed: str | None
    needed: str

    def describe(self) -> str:
        found = "is not installed" if self.installed is None else f"{self.installed} is installed"
        return f"{self.name} {found}; mendix-build needs {self.name} {self.needed} or newer"


class LibraryError(StepError):
    """The environment lacks a library the step imports, or holds too old a version of it:
    the step does not start."""

    exit_code = 2
    default_docs = f"{MANUAL_DOCS}: docs/install.md#dependencies"

    def __init__(self, libraries: list[OldLibrary]) -> None:
        self.libraries = libraries
        needed = " ".join(f"'{lib.name}>={lib.needed}'" for lib in libraries)
        super().__init__(
            "mendix-build cannot run with the libraries installed: "
            + "; ".join(lib.describe() for lib in libraries)
            + ".",
            fix=f"pip install {needed} into the environment that runs mendix-build "
            "(installing mendix-build without --no-deps brings them)",
        )
