"""Fields of a JSON answer from a Mendix API, read without trusting their type."""

from __future__ import annotations

from typing import Any


def text(data: dict[str, Any], key: str) -> str:
    """``data[key]`` when it is a string, else ``""``."""
    value = data.get(key)
    return value if isinstance(value, str) else ""
