"""Sizes and durations as a person reads them (``412.3 MiB``, ``4m 12s``), and the log
field types that carry them: a console line shows the text, a JSON line the exact number."""

from __future__ import annotations

_UNITS = ("KiB", "MiB", "GiB", "TiB")


def format_size(count: int) -> str:
    """``count`` bytes in binary units, one decimal: ``412.3 MiB`` (under 1 KiB: ``512 B``)."""
    if count < 1024:
        return f"{count} B"
    value = float(count)
    for unit in _UNITS:
        value /= 1024
        if value < 1024 or unit == _UNITS[-1]:
            break
    if round(value, 1) >= 1024 and unit != _UNITS[-1]:  # 1023.96 KiB reads as 1.0 MiB
        value /= 1024
        unit = _UNITS[_UNITS.index(unit) + 1]
    return f"{value:.1f} {unit}"


class Bytes(int):
    """A byte count for a log field: a person reads ``412.3 MiB``, a JSON line keeps the
    exact number (it is an int)."""

    def __str__(self) -> str:
        return format_size(int(self))


def format_duration(seconds: float) -> str:
    """As a person reads it: ``0.5s``, ``45s``, ``4m 12s``, ``2m``, ``1h 0m 3s``."""
    if seconds < 59.95:
        text = f"{seconds:.1f}"
        return (text[:-2] if text.endswith(".0") else text) + "s"
    hours, rest = divmod(round(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(hours, "h"), (minutes, "m"), (secs, "s")]
    while parts[0][0] == 0:  # no leading zero units
        parts.pop(0)
    while parts[-1][0] == 0:  # nor trailing ones: 2m, 1h
        parts.pop()
    return " ".join(f"{value}{unit}" for value, unit in parts)


class Seconds(float):
    """A duration for a log field: a person reads ``4m 12s``, a JSON line keeps the exact
    number of seconds (it is a float)."""

    def __str__(self) -> str:
        return format_duration(float(self))
