"""Parse durations written as 900, 90s, 15m, 1h or 1h30m into seconds."""

from __future__ import annotations

import re

_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)([hms])")
_PLAIN = re.compile(r"\d+(?:\.\d+)?")


def parse_duration(text: str) -> float:
    """Seconds in ``text``; ValueError when it is not a positive duration."""
    value = text.strip().lower()
    if _PLAIN.fullmatch(value):
        seconds = float(value)
    else:
        parts = _PART.findall(value)
        if not parts or "".join(n + u for n, u in parts) != value:
            raise ValueError(text)
        units = [u for _, u in parts]
        if len(set(units)) != len(units) or units != sorted(units, key="hms".index):
            raise ValueError(text)
        seconds = sum(float(number) * _UNITS[unit] for number, unit in parts)
    if seconds <= 0:
        raise ValueError(text)
    return seconds
