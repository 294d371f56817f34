"""Fields of a JSON answer from a Mendix API, read without trusting their type."""

from __future__ import annotations

from typing import Any

from ci_step.inert import printable


def text(data: dict[str, Any], key: str) -> str:
    """``data[key]`` when it is a string, else ``""``."""
    value = data.get(key)
    return value if isinstance(value, str) else ""


def neutral(value: object, limit: int, keep: str = "") -> str:
    """Foreign text as the step uses it: a string (anything else is ''), printable with
    only ``keep`` of the breaks and tabs, white space trimmed, at most ``limit``
    characters."""
    if not isinstance(value, str):
        return ""
    shown = printable(value, keep="\t\n")
    for blank in "\t\n":
        if blank not in keep:
            shown = shown.replace(blank, " ")
    shown = shown.strip()
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."
