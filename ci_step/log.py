"""Logging: human console lines or JSON lines, always redacted and inert, always on stderr.

A field whose value is None is left out. Sizes and durations are given as the domain's
Bytes and Seconds: a console line shows them as a person reads them (``412.3 MiB``,
``4m 12s``), a JSON line keeps the exact number under the same name (bytes, seconds).

A JSON line holds the fields as given, then ``event``, ``level``, ``elapsed`` (seconds
since start-up) and ``timestamp`` (ISO 8601, UTC). Each line is written whole and flushed.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from datetime import UTC, datetime
from typing import Any, Protocol, TextIO

from ci_step.inert import inert
from ci_step.secrets import redact

_START = time.monotonic()
_WRITING = threading.Lock()  # a line is written whole, whichever thread logs it


def _redacted(value: Any) -> Any:
    """A field's value with secrets hidden; numbers and booleans stay numbers."""
    if isinstance(value, int | float | bool):
        return value
    return redact(value if isinstance(value, str) else str(value))


def _record(level: str, event: str, fields: dict[str, Any]) -> dict[str, Any]:
    record = {key: value for key, value in fields.items() if value is not None}
    record["event"] = event
    record["level"] = level
    record.setdefault("elapsed", round(time.monotonic() - _START, 1))
    return {key: _redacted(value) for key, value in record.items()}


def _console(level: str, record: dict[str, Any]) -> str:
    elapsed = record.pop("elapsed")
    message = str(record.pop("event"))
    del record["level"]
    prefix = {"warning": "WARNING: ", "error": "ERROR: "}.get(level, "")
    fields = "  ".join(f"{k}={v}" for k, v in record.items())
    line = f"[{elapsed:7.1f}s] {prefix}{message}"
    return f"{line}  {fields}" if fields else line


def _json(record: dict[str, Any]) -> str:
    record["timestamp"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return json.dumps(record)


def render(log_format: str, level: str, event: str, fields: dict[str, Any]) -> str:
    """One log line, without its line break. Texts are redacted before rendering (escapes
    would hide a secret from the registry), never the line after: a short secret must not
    turn a number into ``***`` nor break a JSON line. No line of it may be a command."""
    record = _record(level, event, fields)
    text = _json(record) if log_format == "json" else _console(level, record)
    return inert(text)


class Log(Protocol):
    """What the step's code needs of a logger: a line at three levels, with fields."""

    def info(self, event: str, **fields: Any) -> None: ...

    def warning(self, event: str, **fields: Any) -> None: ...

    def error(self, event: str, **fields: Any) -> None: ...


class Logger:
    """The step's logger (a ``Log``): lines in ``log_format`` to ``stream`` (stderr)."""

    def __init__(self, log_format: str = "auto", stream: TextIO | None = None) -> None:
        self.log_format = log_format
        self.stream = stream

    def _write(self, level: str, event: str, fields: dict[str, Any]) -> None:
        line = render(self.log_format, level, event, fields) + "\n"
        stream = self.stream or sys.stderr
        with _WRITING:
            stream.write(line)
            stream.flush()

    def info(self, event: str, **fields: Any) -> None:
        self._write("info", event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._write("warning", event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._write("error", event, fields)


_current = Logger()


def configure(log_format: str, stream: TextIO | None = None) -> None:
    global _current  # noqa: PLW0603 - one logger per process, replaced as a whole
    _current = Logger(log_format, stream)


def get() -> Logger:
    return _current
