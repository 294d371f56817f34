"""Logging: human console lines or JSON lines, always redacted, always on stderr."""

from __future__ import annotations

import sys
import time
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

from ci_step.secrets import redact

_START = time.monotonic()


def _redact_values(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event.items()):
        if isinstance(value, str):
            event[key] = redact(value)
        elif value is not None and not isinstance(value, int | float | bool):
            event[key] = redact(str(value))
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


def configure(log_format: str, stream: TextIO | None = None) -> None:
    renderer: Any
    processors: list[Any] = [structlog.processors.add_log_level, _add_elapsed]
    if log_format == "json":
        processors.append(structlog.processors.TimeStamper(fmt="iso", utc=True))
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = _console

    def render_redacted(logger: Any, level: str, event: MutableMapping[str, Any]) -> str:
        return redact(str(renderer(logger, level, event)))

    structlog.configure(
        processors=[*processors, _redact_values, render_redacted],
        wrapper_class=structlog.make_filtering_bound_logger(20),
        logger_factory=structlog.PrintLoggerFactory(file=stream or sys.stderr),
        cache_logger_on_first_use=False,
    )


def get() -> Any:
    return structlog.get_logger()
