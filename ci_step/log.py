"""Logging: human console lines or JSON lines, always redacted and inert, always on stderr.

The pipeline is structlog's. Each ``Logger`` wraps its own output (a stream and a format)
in a structlog bound logger; every line passes the processors configured here once for the
process (``PROCESSORS``): fields whose value is None are left out, the level, the elapsed
time and the timestamp are added, every value but the step's own is redacted, one renderer
writes the line (console or JSON, the output's format), and the line is made inert.
``structlog.testing.capture_logs`` sees the events a test logs through the same chain.

Sizes and durations are given as the domain's Bytes and Seconds: a console line shows them
as a person reads them (``412.3 MiB``, ``4m 12s``), a JSON line keeps the exact number under
the same name (bytes, seconds).

A JSON line holds the fields as given (bound ones first), then ``event``, ``level``,
``elapsed`` (seconds since start-up) and ``timestamp`` (ISO 8601, UTC). Each line is written
whole and flushed.
"""

from __future__ import annotations

import copy
import sys
import threading
import time
from collections.abc import MutableMapping
from typing import Any, Protocol, TextIO

import structlog

from ci_step.inert import inert
from ci_step.secrets import redact

_START = time.monotonic()
_WRITING = threading.Lock()  # a line is written whole, whichever thread logs it

EventDict = MutableMapping[str, Any]


def _drop_empty(_logger: object, _method: str, event: EventDict) -> EventDict:
    """A field whose value is None is left out."""
    return {key: value for key, value in event.items() if value is not None}


def _add_elapsed(_logger: object, _method: str, event: EventDict) -> EventDict:
    event.setdefault("elapsed", round(time.monotonic() - _START, 1))
    return event


def _redacted(value: Any) -> Any:
    """A field's value with secrets hidden; numbers and booleans stay numbers."""
    if isinstance(value, int | float | bool):
        return value
    return redact(value if isinstance(value, str) else str(value))


_OWN_FIELDS = frozenset({"level", "elapsed", "timestamp"})


def _redact_values(_logger: object, _method: str, event: EventDict) -> EventDict:
    """Values are redacted before rendering: a format's escapes would hide a secret from the
    registry's plain forms. The step's own fields (level, elapsed, timestamp) are its words,
    never a secret's."""
    return {key: value if key in _OWN_FIELDS else _redacted(value) for key, value in event.items()}


_PREFIXES = {"warning": "WARNING: ", "error": "ERROR: "}
_NOT_FIELDS = frozenset({"event", "level", "elapsed", "timestamp"})


def _console_line(event: EventDict) -> str:
    """``[  12.3s] WARNING: event  key=value  key=value``: the line a person reads."""
    fields = "  ".join(f"{k}={v}" for k, v in event.items() if k not in _NOT_FIELDS)
    line = f"[{event['elapsed']:7.1f}s] {_PREFIXES.get(event['level'], '')}{event['event']}"
    return f"{line}  {fields}" if fields else line


_JSON = structlog.processors.JSONRenderer()


def _render(output: object, method: str, event: EventDict) -> str:
    """The line in the format of the output it goes to."""
    if getattr(output, "log_format", "") == "json":
        return str(_JSON(output, method, event))
    return _console_line(event)


def _inert_line(_logger: object, _method: str, line: str) -> str:
    """No line of it may be a CI command. The line is not redacted again: a short secret
    must not turn a number into ``***`` nor break a JSON line (texts were redacted before
    rendering)."""
    return inert(line)


PROCESSORS: list[Any] = [
    _drop_empty,
    structlog.processors.add_log_level,
    _add_elapsed,
    structlog.processors.TimeStamper(fmt="%Y-%m-%dT%H:%M:%S.%fZ", utc=True),
    _redact_values,
    _render,
    _inert_line,
]
structlog.configure(processors=PROCESSORS)


class Log(Protocol):
    """What the step's code needs of a logger: a line at three levels, with fields, and
    a logger whose lines all carry some fields."""

    def info(self, event: str, **fields: Any) -> None: ...

    def warning(self, event: str, **fields: Any) -> None: ...

    def error(self, event: str, **fields: Any) -> None: ...

    def bind(self, **fields: Any) -> Log: ...


class _Output:
    """Where a Logger's rendered lines go: structlog calls it by the level's name."""

    def __init__(self, log_format: str, stream: TextIO | None) -> None:
        self.log_format = log_format
        self.stream = stream

    def line(self, text: str) -> None:
        stream = self.stream or sys.stderr  # stderr as it is when the line is written
        with _WRITING:
            stream.write(text + "\n")  # one write: no other thread's line splits it
            stream.flush()

    info = warning = error = line


class Logger:
    """The step's logger (a ``Log``): lines in ``log_format`` to ``stream`` (stderr)."""

    def __init__(self, log_format: str = "auto", stream: TextIO | None = None) -> None:
        self.log_format = log_format
        # processors=None: the chain configured above, looked up at each line
        self._log: Any = structlog.wrap_logger(
            _Output(log_format, stream),
            wrapper_class=structlog.BoundLogger,
            context_class=dict,
            cache_logger_on_first_use=False,
        )

    def bind(self, **fields: Any) -> Logger:
        """A logger whose every line carries ``fields`` (before the line's own)."""
        bound = copy.copy(self)
        bound._log = self._log.bind(**fields)
        return bound

    def info(self, event: str, **fields: Any) -> None:
        self._log.info(event, **fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._log.warning(event, **fields)

    def error(self, event: str, **fields: Any) -> None:
        self._log.error(event, **fields)


_current = Logger()


def configure(log_format: str, stream: TextIO | None = None) -> None:
    global _current  # noqa: PLW0603 - one logger per process, replaced as a whole
    _current = Logger(log_format, stream)


def get() -> Logger:
    return _current
