"""An environment's log of a day, generated: many filler lines, then what happened that day.

The file's format is undocumented (the notes: treat it as text lines), so the simulator
writes plain UTF-8 lines ``YYYY-MM-DD HH:MM:SS.mmm LEVEL - Node: message``. The filler
lines all have the same width, so any byte range of a log of any size is computed without
building the log: a client that reads only the tail of a large log can be tested.
After the filler come the day's events (starts, their failures with the reason, stops)
and any lines a test adds (``log_tail``, for text a client must neutralise).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

_FILLER = "{date} {clock} INFO  - Core: Handled request {index:09d} in 12 ms\n"
_PIECE = 1 << 16
FAILURE_LINES = {
    "DB_SYNC_FAILED": [
        (
            "ERROR",
            "ConnectionBus_Synchronization",
            "Executing DDL statement failed: "
            'ERROR: column "total" of relation "shop$order" contains null values',
        ),
        ("ERROR", "Core", "Synchronization of database failed."),
    ],
    "STARTUP_ACTION_FAILED": [
        ("ERROR", "Core", "Executing startup action MyFirstModule.ASu_Start failed."),
    ],
    "INVALID_DB_STRUCTURE": [
        (
            "ERROR",
            "Core",
            "The database structure does not match the model; synchronize the database first.",
        ),
    ],
}


@dataclass(frozen=True)
class LogEvent:
    at: float  # simulated seconds, as the service's clock counts them
    level: str
    node: str
    message: str


def day(wall: float) -> str:
    return dt.datetime.fromtimestamp(wall, dt.UTC).strftime("%Y-%m-%d")


def _clock(wall: float) -> str:
    moment = dt.datetime.fromtimestamp(wall, dt.UTC)
    return moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def start_failure(at: float, code: str, text: str, missing: list[str]) -> list[LogEvent]:
    """The lines a failed start leaves in the log, its reason last."""
    lines = [LogEvent(at, *line) for line in FAILURE_LINES.get(code, [])]
    lines += [LogEvent(at, "ERROR", "Core", f"Constant '{name}' has no value.") for name in missing]
    lines.append(LogEvent(at, "CRITICAL", "Core", f"{text} ({code})"))
    return lines


class LogText:
    """The bytes of one day's log: ``lines`` filler lines, then ``tail`` (already text)."""

    def __init__(self, date: str, lines: int, tail: bytes, until_ms: int) -> None:
        self.date = date
        self.lines = lines
        self.tail = tail
        self.until_ms = max(until_ms, 1)
        self.width = len(self._line(0))
        self.size = lines * self.width + len(tail)

    @classmethod
    def build(
        cls,
        date: str,
        lines: int,
        events: list[tuple[float, LogEvent]],
        extra: list[str],
        until: float,
    ) -> LogText:
        """``events``: (wall time, event) of this day, in order; ``extra``: raw lines;
        the filler lines spread from midnight to the first event or ``until`` (wall)."""
        text = "".join(
            f"{date} {_clock(wall)} {e.level:<5} - {e.node}: {e.message}\n" for wall, e in events
        )
        text += "".join(line if line.endswith("\n") else line + "\n" for line in extra)
        first = min(events[0][0], until) if events else until
        midnight = dt.datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=dt.UTC).timestamp()
        until_ms = int((first - midnight) * 1000)
        return cls(date, lines, text.encode("utf-8"), min(until_ms, 86_400_000 - 1))

    def _line(self, index: int) -> str:
        ms = index * self.until_ms // max(self.lines, 1)
        seconds, ms = divmod(ms, 1000)
        minutes, seconds = divmod(seconds, 60)
        hours, minutes = divmod(minutes, 60)
        clock = f"{hours:02d}:{minutes:02d}:{seconds:02d}.{ms:03d}"
        return _FILLER.format(date=self.date, clock=clock, index=index)

    def stream(self, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Bytes [start, end) of the log, in pieces."""
        end = self.size if end is None else min(end, self.size)
        filler_end = self.lines * self.width
        position = start
        while position < min(end, filler_end):
            first = position // self.width
            last = min((min(end, filler_end) - 1) // self.width, first + _PIECE // self.width)
            block = "".join(self._line(i) for i in range(first, last + 1)).encode()
            piece = block[position - first * self.width : min(end, filler_end) - first * self.width]
            yield piece
            position += len(piece)
        if end > filler_end:
            yield self.tail[max(start, filler_end) - filler_end : end - filler_end]
