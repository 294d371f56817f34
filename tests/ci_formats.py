"""Readers that parse output files the way each CI does (their rules, restated in Python).

- GitHub runner: file commands, ``name=value`` or ``name<<DELIM`` ... ``DELIM``;
  lines split on \\n, \\r\\n and \\r; a missing delimiter fails the step.
- GitLab: each line must match ``^(.*?)=(.*)$``; key and value are stripped;
  keys are [A-Za-z0-9_]+; the file is under 5 KiB; at most 20 variables.
- Jenkins readProperties: java.util.Properties.load.
- Azure Pipelines agent: logging commands (``##vso[area.event props]data``) anywhere in a
  line of stdout or stderr (Command.TryParse, CommandStringConvertor.Unescape).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


class FormatError(Exception):
    pass


def _runner_lines(text: str) -> list[str]:
    # .NET StringReader.ReadLine: \r\n, \n and \r all end a line.
    lines = re.split(r"\r\n|\n|\r", text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def github_file_command(text: str) -> dict[str, str]:
    result: dict[str, str] = {}
    lines = _runner_lines(text)
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line:
            continue
        equals, heredoc = line.find("="), line.find("<<")
        if equals >= 0 and (heredoc < 0 or equals < heredoc):
            key, value = line[:equals], line[equals + 1 :]
        elif heredoc >= 0:
            key, delimiter = line[:heredoc], line[heredoc + 2 :]
            if not delimiter:
                raise FormatError(f"empty delimiter for {key}")
            body: list[str] = []
            while True:
                if index >= len(lines):
                    raise FormatError(f"matching delimiter not found: {delimiter}")
                current = lines[index]
                index += 1
                if current == delimiter:
                    break
                body.append(current)
            value = "\n".join(body)
        else:
            raise FormatError(f"invalid format: {line!r}")
        if not key:
            raise FormatError("empty name")
        result[key] = value
    return result


GITLAB_LIMIT = 5 * 1024
GITLAB_MAX_VARIABLES = 20


def gitlab_dotenv(data: bytes) -> dict[str, str]:
    if len(data) >= GITLAB_LIMIT:
        raise FormatError("Dotenv Artifact Too Big")
    text = data.decode("utf-8")
    variables: dict[str, str] = {}
    # Ruby's each_line splits on "\n" only; String#strip removes ASCII whitespace and NUL.
    for line in re.findall(r"[^\n]*\n|[^\n]+$", text):
        matches = re.findall(r"^(.*?)=(.*)$", line, flags=re.MULTILINE)
        if not matches:
            raise FormatError("Invalid Format")
        key, value = (part.strip(" \t\n\v\f\r\x00") for part in matches[-1])
        if not re.fullmatch(r"[a-zA-Z0-9_]+", key) or len(key) > 255:
            raise FormatError(f"invalid key {key!r}")
        variables[key] = value
    if len(variables) > GITLAB_MAX_VARIABLES:
        raise FormatError("too many variables")
    return variables


def java_properties(text: str) -> dict[str, str]:
    """java.util.Properties.load(Reader), restated."""
    result: dict[str, str] = {}
    natural = re.split(r"\r\n|\n|\r", text)
    index = 0
    while index < len(natural):
        line = natural[index].lstrip(" \t\f")
        index += 1
        if not line or line[0] in "#!":
            continue
        while _continues(line) and index < len(natural):
            line = line[:-1] + natural[index].lstrip(" \t\f")
            index += 1
        if _continues(line):
            line = line[:-1]
        key, value = _split_key(line)
        result[_unescape(key)] = _unescape(value)
    return result


def _continues(line: str) -> bool:
    trailing = len(line) - len(line.rstrip("\\"))
    return trailing % 2 == 1


def _split_key(line: str) -> tuple[str, str]:
    position = 0
    while position < len(line):
        char = line[position]
        if char == "\\":
            position += 2
            continue
        if char in "=: \t\f":
            break
        position += 1
    key = line[:position]
    rest = line[position:].lstrip(" \t\f")
    if rest[:1] in ("=", ":"):
        rest = rest[1:].lstrip(" \t\f")
    return key, rest


def _unescape(text: str) -> str:
    out: list[str] = []
    position = 0
    while position < len(text):
        char = text[position]
        if char != "\\":
            out.append(char)
            position += 1
            continue
        following = text[position + 1 : position + 2]
        if following == "u":
            digits = text[position + 2 : position + 6]
            if not re.fullmatch(r"[0-9a-fA-F]{4}", digits):
                raise FormatError("Malformed \\uxxxx encoding.")
            out.append(chr(int(digits, 16)))
            position += 6
            continue
        out.append({"t": "\t", "n": "\n", "r": "\r", "f": "\f"}.get(following, following))
        position += 2
    # Surrogate pairs written as two \u escapes become one character.
    return "".join(out).encode("utf-16", "surrogatepass").decode("utf-16")


# ---------------------------------------------------------------------------------------
# Azure Pipelines: what the agent's Command.TryParse reads from a line of output


@dataclass
class AzureCommand:
    area: str
    event: str
    properties: dict[str, str] = field(default_factory=dict)  # names in lower case
    data: str = ""

    @property
    def name(self) -> str:
        return f"{self.area}.{self.event}".lower()


AZURE_ESCAPES = ((";", "%3B"), ("\r", "%0D"), ("\n", "%0A"), ("]", "%5D"))


def azure_unescape(text: str, percents: bool = True) -> str:
    """CommandStringConvertor.Unescape: the four escapes, then %AZP25 when the agent decodes
    percents (DECODE_PERCENTS, true unless the job says otherwise)."""
    for char, escape in AZURE_ESCAPES:
        text = text.replace(escape, char)
    return text.replace("%AZP25", "%") if percents else text


def azure_command(line: str, percents: bool = True) -> AzureCommand | None:
    """Command.TryParse: the first ``##vso[`` anywhere in the line, the command info up to
    the first ``]`` after it, ``area.event`` before the first space (exactly two parts once
    empty ones are dropped), properties split at ``;`` and each at its first ``=`` (a pair
    with an empty side is dropped), names case-insensitive; the rest of the line is data."""
    start = line.find("##vso[")
    if start < 0:
        return None
    end = line.find("]", start)
    if end < 0:
        return None
    info = line[start + len("##vso[") : end]
    name, _, props = info.partition(" ")
    parts = [part for part in name.split(".") if part]
    if len(parts) != 2:
        return None
    command = AzureCommand(parts[0], parts[1])
    for prop in (p for p in props.split(";") if p):
        key, _, value = prop.partition("=")
        if key and value:
            command.properties[key.lower()] = azure_unescape(value, percents)
    command.data = azure_unescape(line[end + 1 :], percents)
    return command


def azure_commands(text: str, percents: bool = True) -> list[AzureCommand]:
    """Every command the agent would run from a stream's text (lines split as .NET's
    ReadLine splits them: at \\r\\n, \\n and \\r)."""
    found = (azure_command(line, percents) for line in _runner_lines(text))
    return [command for command in found if command is not None]


def azure_output_variables(commands: list[AzureCommand]) -> dict[str, str]:
    """The output variables a step set (``task.setvariable`` with ``isoutput`` true, as
    Boolean.TryParse reads it), by name: the last value set wins."""
    variables: dict[str, str] = {}
    for command in commands:
        if command.name != "task.setvariable":
            continue
        if command.properties.get("isoutput", "").strip().lower() != "true":
            continue
        name = command.properties.get("variable", "")
        if not name:
            raise FormatError("setvariable without a variable name")
        variables[name] = command.data
    return variables
