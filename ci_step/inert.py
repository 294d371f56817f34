"""Printed text made inert for CI runners: no line the step prints carries a command.

GitHub's runner reads every line of a container action's stdout and stderr (split at
``\\n``, ``\\r`` and ``\\r\\n``) and takes it as a command when, after leading white space,
it starts with ``::`` (``::name props::data``), or when it holds ``##[`` anywhere (the
older ``##[name props]data`` form). Which names it obeys changes while it runs
(``stop-commands`` makes any token one), so the shape is broken whatever the name:
``::`` at the start of a line becomes ``: :``. The Azure Pipelines agent takes ``##vso[``
anywhere in a line of stdout or stderr as a logging command, and its log shows a line
starting ``##[error]``, ``##[group]``, … as an error or a fold; so ``##[`` becomes
``## [`` and ``##vso[`` (in any case) ``## vso[``, wherever they are. Control characters
become spaces. Every line of text from elsewhere passes here, whichever CI the step runs
in (a log can be read by any); the step's own commands (``::add-mask::``,
``##vso[task.setsecret]``, …) are written around it.
"""

from __future__ import annotations

import re
from typing import Protocol, TextIO

from ci_step.controls import codes_except

# ``##[`` (GitHub's older form, Azure's log formatting) and ``##vso[`` (Azure's commands):
# a space after the ``##``. A space never makes another one.
_BRACKET_FORMS = re.compile(r"##(?=(?:vso)?\[)", re.IGNORECASE)
_COMMAND, _COMMAND_INERT = "::", ": :"
# Every break str.splitlines knows: more than the runner splits at, never fewer.
_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


class Writer(Protocol):
    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...


# Control characters an ASCII text may hold (tab and line feed are kept).
_ASCII_CONTROLS = dict.fromkeys(codes_except("\t\n"), " ")


def printable(text: str, keep: str = "\t\n") -> str:
    """``text`` with every control or invisible character but those in ``keep`` read as a
    space: foreign text can then neither move the cursor, colour or hide what follows,
    nor start a line of its own (a lone ``\r``)."""
    if text.isascii():
        controls = _ASCII_CONTROLS
        if keep != "\t\n":
            controls = {code: " " for code in controls if chr(code) not in keep}
        return text.translate(controls)
    return "".join(c if c.isprintable() or c in keep else " " for c in text)


def unbracketed(text: str) -> str:
    """``text`` with a space after each ``##`` of ``##[`` and ``##vso[`` (in any case),
    wherever they are: for a text inside a line, such as a command's message."""
    return _BRACKET_FORMS.sub("## ", text)


def inert(text: str) -> str:
    """``text`` (starting a line), printable, with no line a runner would take as a
    command."""
    text = unbracketed(printable(text))
    if _COMMAND not in text:
        return text
    return "".join(_line(line) for line in text.splitlines(keepends=True))


def _line(line: str) -> str:
    start = 0
    while start < len(line) and _blank(line[start]):
        start += 1
    if line.startswith(_COMMAND, start):
        return line[:start] + _COMMAND_INERT + line[start + len(_COMMAND) :]
    return line


def _blank(char: str) -> bool:
    # The runner trims .NET white space; anything blank or invisible here counts too.
    return char.isspace() or not char.isprintable()


class InertWriter:
    """A text stream that passes on whole lines, each made inert (a last partial line
    leaves with ``end()``)."""

    def __init__(self, raw: TextIO) -> None:
        self.raw = raw
        self._partial = ""

    def write(self, text: str, /) -> int:
        pending = self._partial + text
        cut = max(pending.rfind(char) for char in _BREAKS) + 1
        if cut:
            self.raw.write(inert(pending[:cut]))
        self._partial = pending[cut:]
        return len(text)

    def flush(self) -> None:
        self.raw.flush()

    def end(self) -> None:
        if self._partial:
            self.raw.write(inert(self._partial) + "\n")
            self._partial = ""
        self.raw.flush()
