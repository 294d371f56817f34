"""One registry of secret values; everything printed or written passes through it."""

from __future__ import annotations

import threading

MASK = "***"
_MIN_LENGTH = 4


class SecretRegistry:
    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()

    def add(self, value: str | None) -> bool:
        """Register a secret; True when it is new (so callers can announce it once)."""
        if not value or len(value) < _MIN_LENGTH:
            return False
        with self._lock:
            if value in self._values:
                return False
            self._values.add(value)
            return True

    def redact(self, text: str) -> str:
        with self._lock:
            values = sorted(self._values, key=len, reverse=True)
        for value in values:
            if value in text:
                text = text.replace(value, MASK)
        return text

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


REGISTRY = SecretRegistry()


def redact(text: str) -> str:
    return REGISTRY.redact(text)
