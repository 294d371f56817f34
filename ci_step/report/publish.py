"""Write the rendered outputs where each CI looks for them.

A target whose variable is unset is skipped quietly. Every free text passes the
secret registry before a format escapes it; the rendered file is not redacted again,
so a short secret (``true``, ``1234``) never corrupts a number, a Boolean, an id or
the format's own syntax. A target whose text cannot be rendered is not written at all
(never half).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from ci_step import files
from ci_step.errors import OutputError, input_name
from ci_step.report import render
from ci_step.report.ci_env import CiEnv, Platform
from ci_step.report.result import StepResult
from ci_step.secrets import redact
from ci_step.workflow_commands import escape_data

DOTENV_NAME = "mendix-build.env"
PROPERTIES_NAME = "mendix-build.properties"
JSON_NAME = "mendix-build.json"


@dataclass(frozen=True)
class Write:
    path: Path
    render: Callable[[StepResult], str]
    append: bool = False
    input: str = ""  # the input that named the file, if one did
    root: Path | None = None  # the workspace the path lies in (see ci_step.files); None: trusted


def targets_for(ci: CiEnv, result_file: Path | None) -> list[Write]:
    writes: list[Write] = []
    if ci.platform is Platform.GITHUB:
        output, summary = ci.get("GITHUB_OUTPUT"), ci.get("GITHUB_STEP_SUMMARY")
        writes += github_writes(
            Path(output) if output else None, Path(summary) if summary else None
        )
    elif ci.platform is Platform.GITLAB:
        writes += gitlab_writes(ci.workspace)
    elif ci.platform is Platform.JENKINS:
        writes += jenkins_writes(ci.workspace)
    if result_file is not None:
        writes.append(
            Write(
                result_file,
                render.json_document,
                input="result-file",
                root=ci.workspace.resolve(),
            )
        )
    return writes


def github_writes(output: Path | None, summary: Path | None) -> list[Write]:
    writes = []
    if output is not None:
        writes.append(Write(output, _github_output, append=True))
    if summary is not None:
        writes.append(Write(summary, render.step_summary, append=True))
    return writes


def gitlab_writes(directory: Path) -> list[Write]:
    return [Write(directory / DOTENV_NAME, _dotenv, root=directory)]


def jenkins_writes(directory: Path) -> list[Write]:
    return [
        Write(directory / PROPERTIES_NAME, _properties, root=directory),
        Write(directory / JSON_NAME, render.json_document, root=directory),
    ]


def _github_output(result: StepResult) -> str:
    return render.github_output(result.outputs())


def _dotenv(result: StepResult) -> str:
    """Without the outputs of a gate that did not run: GitLab refuses a dotenv report of
    more than 20 variables on some plans (the instance limit ``dotenv_variables``)."""
    unused = result.unused_outputs()
    return render.dotenv({k: v for k, v in result.outputs().items() if k not in unused})


def _properties(result: StepResult) -> str:
    return render.properties(result.outputs())


def publish(result: StepResult, writes: list[Write]) -> list[str]:
    """Write every target; return the problems (one line each) for those that failed.

    Whatever is written agrees with the exit code. Files replaced whole come first, the
    appended ones (GitHub's output file, then its step summary) last. A failed write turns
    a successful result into an output error, and the targets already written are written
    again with it (GitHub keeps the last value of an output set twice).
    """
    problems: list[str] = []
    fixes: list[str] = []
    written: list[Write] = []
    ours: OutputError | None = None
    for write in sorted(writes, key=lambda w: w.append):
        failure = _write(result, write)
        if failure is None:
            written.append(write)
            continue
        problems.append(f"{write.path}: {failure.message}")
        fixes.append(failure.fix)
        if result.exit_code == 0 or (ours is not None and result.error is ours):
            ours = OutputError(
                ("Output not written: " if len(problems) == 1 else "Outputs not written: ")
                + "; ".join(problems),
                fix="; ".join(dict.fromkeys(fixes)),
            )
            result.fail(ours)
            for earlier in written:
                _write(result, earlier)
    return problems


def _write(result: StepResult, write: Write) -> OutputError | None:
    """Render and write one target; the reason it failed, if it did.

    Secrets are redacted in the result's free texts before a format escapes them."""
    try:
        text = write.render(result.redacted(redact))
        if write.append:
            _append(write.path, text)
        else:
            _replace(write, text)
    except OutputError as exc:
        return exc
    except files.Changed as exc:
        return OutputError(
            f"not written: {exc}",
            fix="make sure nothing else in the job moves or replaces files in the workspace "
            "while the step runs",
        )
    except OSError as exc:
        fix = f"make sure directory {write.path.parent} exists and the step may write there"
        if write.input:
            fix = f"set {input_name(write.input)} to a file in a writable directory"
        return OutputError(f"cannot write ({exc.strerror or exc})", fix=fix)
    return None


def _append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as out:
        out.write(text)


def _replace(write: Write, text: str) -> None:
    with files.Replacement(write.root or write.path.parent, write.path, ".tmp") as new:
        new.file.write(text.encode("utf-8"))
        new.commit()


def announce_failure(result: StepResult, ci: CiEnv, stream: TextIO) -> None:
    """The one-line annotation a CI shows for a failed step (GitHub's ::error::)."""
    error = None if result.error is None else result.error.redacted(redact)
    if ci.platform is Platform.GITHUB and error is not None:
        line = render.github_command(
            "error", " ".join(error.lines()), title=f"mendix-build: {result.outcome}"
        )
        stream.write(line + "\n")
        stream.flush()


def mask(value: str, ci: CiEnv, stream: TextIO) -> None:
    """Ask GitHub to mask a secret in its logs (each line separately)."""
    if ci.platform is Platform.GITHUB:
        for part in value.splitlines() or [value]:
            if part.strip():
                # the runner unescapes command data: escape it so it masks this very text
                stream.write(f"::add-mask::{escape_data(part)}\n")
        stream.flush()
