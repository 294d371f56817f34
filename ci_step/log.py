"""Logging: human console lines or JSON lines, always redacted and inert, always on stderr.

A field whose value is None is left out. Sizes and durations are given as the domain's
Bytes and Seconds: a console line shows them as a person reads them (``412.3 MiB``,
``4m 12s``), a JSON line keeps the exact number under the same name (bytes, seconds).

structlog is imported when the first line is logged, not at start-up: on the main path
the first request goes out before anything is logged, and structlog's import costs
about as much as the rest of the start-up together.
"""

from __future__ import annotations

import sys
import time
from collections.abc import MutableMapping
from typing import Any, Protocol, TextIO

from ci_step.inert import inert
from ci_step.secrets import redact

_START = time.monotonic()


def _redact_values(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event.items()):
        if isinstance(value, str):
            event[key] = redact(value)
        elif value is not None and not isinstance(value, int | float | bool):
            event[key] = redact(str(value))
    return event


def _drop_none(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A field that holds nothing is left out: no ``environment=None`` in a line."""
    for key in [key for key, value in event.items() if value is None]:
        del event[key]
    return event


def _add_elapsed(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    event.setdefault("elapsed", round(time.monotonic() - _START, 1))
    return event


def _console(_: Any, level: str, event: MutableMapping[str, Any]) -> str:
    elapsed = event.pop("elapsed", 0.0)
    message = str(event.pop("event", ""))
    event.pop("level", None)
    prefix = {"warning": "WARNING: ", "error": "ERROR: "}.get(level, "")
    fields = "  ".join(f"{k}={v}" for k, v in event.items())
    line = f"[{elapsed:7.1f}s] {prefix}{message}"
    return f"{line}  {fields}" if fields else line


def _build(log_format: str, stream: TextIO) -> Any:
    import structlog

    renderer: Any
    processors: list[Any] = [structlog.processors.add_log_level, _add_elapsed]
    if log_format == "json":
        processors.append(structlog.processors.TimeStamper(fmt="iso", utc=True))
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = _console

    def render_redacted(logger: Any, level: str, event: MutableMapping[str, Any]) -> str:
        # Values were redacted before rendering (escapes would hide a secret from the
        # registry); the whole line once more after, then no line of it may be a command.
        return inert(redact(str(renderer(logger, level, event))))

    return structlog.wrap_logger(
        structlog.PrintLogger(stream),
        processors=[*processors, _drop_none, _redact_values, render_redacted],
        wrapper_class=structlog.make_filtering_bound_logger(20),
        cache_logger_on_first_use=False,
    )


class Log(Protocol):
    """What the step's code needs of a logger: a line at three levels, with fields."""

    def info(self, event: str, **fields: Any) -> None: ...

    def warning(self, event: str, **fields: Any) -> None: ...

    def error(self, event: str, **fields: Any) -> None: ...


class Logger:
    """The step's logger (a ``Log``); structlog is set up on the first line."""

    def __init__(self, log_format: str = "auto", stream: TextIO | None = None) -> None:
        self.log_format = log_format
        self.stream = stream
        self._logger: Any = None

    def _real(self) -> Any:
        if self._logger is None:
            self._logger = _build(self.log_format, self.stream or sys.stderr)
        return self._logger

    def info(self, event: str, **fields: Any) -> None:
        self._real().info(event, **fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._real().warning(event, **fields)

    def error(self, event: str, **fields: Any) -> None:
        self._real().error(event, **fields)


_current = Logger()


def configure(log_format: str, stream: TextIO | None = None) -> None:
    global _current  # noqa: PLW0603 - one logger per process, replaced as a whole
    _current = Logger(log_format, stream)


def get() -> Logger:
    return _current
