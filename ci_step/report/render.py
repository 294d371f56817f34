"""Render outputs as each CI reads them. Pure text in, text out: nothing is written here."""

from __future__ import annotations

import json
import re
import secrets

from ci_step.controls import CONTROL_IN_LINES, CONTROL_IN_TEXT
from ci_step.errors import OutputError, StepError
from ci_step.inert import printable, unbracketed
from ci_step.report.result import DEPLOY_OUTPUTS, PHASES, StepResult, output_key
from ci_step.units import format_duration, format_size
from ci_step.workflow_commands import (
    AZURE_PREFIX,
    azure_carries,
    azure_spaced,
    escape_azure,
    escape_data,
    escape_property,
)

DOTENV_LIMIT = 5 * 1024  # GitLab refuses a dotenv report of 5 KiB or more
DOTENV_VARIABLES = 20  # and one of more variables on some plans (limit dotenv_variables)
_EOL = re.compile(r"[\r\n]")
_BACKTICKS = re.compile(r"`+")


def github_output(outputs: dict[str, str], delimiter: str | None = None) -> str:
    """$GITHUB_OUTPUT lines: every value in a heredoc with a random delimiter."""
    values = "\n".join(outputs.values())
    while delimiter is None or delimiter in values:
        delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
    chunks = []
    for name, value in outputs.items():
        if CONTROL_IN_LINES.search(value) or "\r" in value:
            raise OutputError(f"output {name} holds control characters and was not written")
        chunks.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
    return "".join(chunks)


def github_command(command: str, message: str, **properties: str) -> str:
    """One workflow command line, escaped so the message cannot start another, and with no
    other control character in it, nor a foreign Azure command (a log may be read by any
    CI)."""
    props = ",".join(f"{k}={escape_property(_visible(v))}" for k, v in properties.items())
    head = f"::{command} {props}::" if props else f"::{command}::"
    return head + escape_data(_visible(message))


def azure_command(command: str, data: str, *, percents: bool = True, **properties: str) -> str:
    """One Azure logging command line (``##vso[task.logissue type=error]message``), its
    data and property values escaped so that the agent reads them back as given: nothing in
    them ends a property, the command or the line. ``percents``: see ``escape_azure``."""
    props = ";".join(
        f"{name}={escape_azure(value, percents=percents)}" for name, value in properties.items()
    )
    head = f"{AZURE_PREFIX}{command} {props}]" if props else f"{AZURE_PREFIX}{command}]"
    return head + escape_azure(data, percents=percents)


def azure_message(command: str, message: str, *, percents: bool = True, **properties: str) -> str:
    """A logging command whose data is a message for people: on one line, printable, and
    holding no ``##[`` nor ``##vso[`` of its own (the agent writes an issue into the log
    as a line)."""
    text = " ".join(_visible(line) for line in message.splitlines())
    if not percents:
        text = azure_spaced(text)
    return azure_command(command, text, percents=percents, **properties)


def azure_variables(outputs: dict[str, str], *, percents: bool = True) -> str:
    """Azure output variables: one ``task.setvariable`` per output, ``isoutput=true``, so
    later steps read ``$(<step>.<name>)`` and later jobs
    ``dependencies.<job>.outputs['<step>.<name>']``. Line breaks, ``;``, ``]`` and ``%``
    are escaped and read back as written; a value holding another control character (a
    variable becomes an environment variable, which cannot hold NUL) or one the agent would
    not read back as written is refused."""
    lines = []
    for name, value in outputs.items():
        if CONTROL_IN_TEXT.search(value):
            raise OutputError(f"output {name} holds control characters and was not written")
        if not azure_carries(value, percents=percents):
            raise OutputError(
                f"output {name} holds %3B, %0D, %0A or %5D as written, which the Azure agent "
                "reads as an escape while the job sets DECODE_PERCENTS to false",
                fix="leave DECODE_PERCENTS at its default (true), or keep such text out "
                "of the inputs that become outputs",
            )
        lines.append(
            azure_command(
                "task.setvariable", value, percents=percents, variable=name, isoutput="true"
            )
        )
    return "\n".join(lines) + "\n"


def _visible(text: str) -> str:
    # line breaks are escaped, not dropped; text from elsewhere holds no ##[ or ##vso[
    return unbracketed(printable(text, keep="\t\r\n"))


def _fence(text: str, shortest: int) -> str:
    """Backticks longer than any run of them in ``text``: a code span or block it cannot end."""
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    return "`" * max(shortest, longest + 1)


def _code(value: str) -> str:
    """A table cell showing ``value`` as inline code: no Markdown, HTML or link in it renders."""
    if not value:
        return " "
    text = _EOL.sub(" ", value).replace("|", "\\|")  # GFM reads \| as | even in code
    fence = _fence(text, 1)
    return f"{fence} {text} {fence}"


def _block(lines: list[str]) -> list[str]:
    """Lines as a fenced code block: text from the network is shown, never rendered."""
    text = "\n".join(lines)
    fence = _fence(text, 3)
    return [f"{fence}text", text, fence]


def step_summary(result: StepResult) -> str:
    """Markdown for $GITHUB_STEP_SUMMARY: what ran where, what happened (on a failure the
    phase that failed first, the cause and the fix), each phase's outcome, the outputs."""
    from ci_step.report import gates_summary  # the unit tests and pipeline runs

    if result.command:
        return gates_summary.command_summary(result)
    title = "Mendix build and deploy" if result.environment else "Mendix build"
    lines = [f"### {icon(result)} {title}: {result.outcome}", "", *_subject(result)]
    if result.error is not None:
        lines += _what_happened(result, result.error)
    if result.log_tail:
        count = len(result.log_tail)
        lines += [
            f"<details><summary>The last {count} lines of the environment's log</summary>",
            "",
            *_block(result.log_tail),
            "",
            "</details>",
            "",
        ]
    lines += _phases(result)
    lines += gates_summary.unit_tests_section(result)
    if result.settings_changes:
        lines += ["Settings changed:", "", *_block(result.settings_changes), ""]
    lines += ["| Output | Value |", "| --- | --- |"]
    for name, value in result.outputs().items():
        deploy = result.environment or name not in DEPLOY_OUTPUTS  # a build alone: no deploy rows
        if deploy and gates_summary.shown(result, name):
            lines.append(f"| {name} | {_code(value)} |")
    return "\n".join(lines) + "\n\n"


def icon(result: StepResult) -> str:
    """The summary title's sign of the result."""
    return {"success": "✅", "failure": "❌", "timeout": "⏱️", "cancelled": "🛑"}.get(
        result.outcome, "⚠️"
    )


# What of an environment URL from the API may become a link: https, a plain host name, an
# optional port and a plain path; nothing Markdown or HTML reads as syntax.
_SAFE_URL = re.compile(
    r"https://[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::\d{1,5})?(?:/[A-Za-z0-9./-]*)?"
)


def _link(url: str) -> str:
    """The environment URL as a link when it is a safe https URL, as code otherwise."""
    if _SAFE_URL.fullmatch(url) and len(url) <= 300:
        return f"[{url}]({url})"
    return _code(url)


def _subject(result: StepResult) -> list[str]:
    """One line: the app, the environment and its URL, how long the step took."""
    parts = []
    if result.app_id:
        parts.append(f"App {_code(result.app_id)}")
    if result.environment:
        environment = f"environment {_code(result.environment)}"
        if result.environment_url:
            environment += f" ({_link(result.environment_url)})"
        parts.append(environment)
    parts.append(f"took {format_duration(result.duration_seconds)}")
    text = ", ".join(parts)
    return [text[0].upper() + text[1:] + ".", ""]


def _what_happened(result: StepResult, error: StepError) -> list[str]:
    """The phase that failed first, the state a deploy left, then the cause and the fix."""
    lines = ["#### What happened", ""]
    phase = PHASES.get(result.failed_phase, "")
    verb = {"timeout": "Timed out", "cancelled": "Cancelled"}.get(result.outcome, "Failed")
    if phase:
        lines.append(f"**{verb} while {phase}.**" + _state(result))
        lines.append("")
    told = [error.message, *([f"Fix: {error.fix}"] if error.fix else [])]
    lines += [*_block(told), ""]
    if error.docs:  # the step's own text: a link may render
        lines += [f"More: {error.docs}", ""]
    return lines


def _state(result: StepResult) -> str:
    """The state a failed deploy left the environment in (text from the API: as code)."""
    if not result.environment_state:
        return ""
    return f" Now: {_code(result.environment_state)}"


def _phases(result: StepResult) -> list[str]:
    """Each phase's outcome: build, download and, for a step that deploys, the deploy."""
    build = result.status or ("failed" if result.failed_phase == "build" else "not started")
    if result.reused and result.status:
        build += " (existing package)"
    rows = [
        "| Phase | Outcome |",
        "| --- | --- |",
        f"| Build | {_code(build)} |",
        f"| Download | {_download(result)} |",
    ]
    if result.backup_id:
        rows.append(f"| Snapshot | {_code(result.backup_id)} |")
    if result.environment:
        deploy = _code(result.deploy_result)
        if result.deployed and result.environment_url:
            deploy += f" {_link(result.environment_url)}"
        elif result.environment_state:
            deploy += f" {_code(result.environment_state)}"
        rows.append(f"| Deploy to {_code(result.environment)} | {deploy} |")
    from ci_step.report import gates_summary

    rows += gates_summary.unit_tests_row(result)
    return [*rows, ""]


def _download(result: StepResult) -> str:
    if result.artifact_path:
        size = "" if result.artifact_size is None else f" ({format_size(result.artifact_size)})"
        return _code(result.artifact_path) + size
    if result.failed_phase == "download":
        return _code("failed")
    done = result.outcome == "success" or result.deploy_result != "skipped"
    return _code("skipped" if done else "not reached")


def dotenv(outputs: dict[str, str]) -> str:
    """GitLab's dotenv report: KEY=value lines, one line per value, under 5 KiB, at most
    20 variables."""
    if len(outputs) > DOTENV_VARIABLES:
        raise OutputError(
            f"the dotenv report would hold {len(outputs)} variables; GitLab takes at most "
            f"{DOTENV_VARIABLES} on some plans"
        )
    lines = []
    for name, value in outputs.items():
        if _EOL.search(value) or CONTROL_IN_LINES.search(value):
            raise OutputError(f"output {name} holds a line break; GitLab dotenv cannot carry it")
        if value != value.strip():
            raise OutputError(f"output {name} starts or ends with spaces GitLab would strip")
        lines.append(f"{output_key(name)}={value}")
    text = "\n".join(lines) + "\n"
    if len(text.encode("utf-8")) >= DOTENV_LIMIT:
        raise OutputError("the dotenv report would reach GitLab's 5 KiB limit")
    return text


def properties(outputs: dict[str, str]) -> str:
    """java.util.Properties text, ASCII only (escapes as Properties.load reads them)."""
    lines = ["# mendix-build outputs"]
    for name, value in outputs.items():
        lines.append(f"{output_key(name)}={_escape_java(value, key=False)}")
    return "\n".join(lines) + "\n"


def _escape_java(text: str, *, key: bool) -> str:
    out = []
    for index, char in enumerate(text):
        code = ord(char)
        if char == "\\":
            out.append("\\\\")
        elif char in "=:#!":
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif char == "\f":
            out.append("\\f")
        elif char == " " and (key or index == 0):
            out.append("\\ ")
        elif code < 0x20 or code > 0x7E:
            for unit in _utf16(char):
                out.append(f"\\u{unit:04x}")
        else:
            out.append(char)
    return "".join(out)


def _utf16(char: str) -> list[int]:
    data = char.encode("utf-16-be")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


def json_document(result: StepResult) -> str:
    return json.dumps(result.document(), indent=2, ensure_ascii=False) + "\n"
