"""One registry of secret values; everything printed or written passes through it.

Each secret is known in the forms a server or a format may turn it into (JSON and
Python escapes, URL escapes, GitHub's and Azure's command escapes, base64), so an echo
in any of them is masked too.
"""

from __future__ import annotations

import base64
import json
import threading
from urllib.parse import quote, quote_plus

from ci_step.workflow_commands import escape_azure, escape_data, escape_property

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
            self._values.update(form for form in _forms(value) if len(form) >= _MIN_LENGTH)
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


def _forms(value: str) -> set[str]:
    raw = value.encode("utf-8")
    forms = {
        value,
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        value.encode("unicode_escape").decode("ascii"),
        quote(value, safe=""),
        quote(value),
        quote_plus(value, safe=""),
        escape_data(value),
        escape_property(value),
        escape_azure(value),
        escape_azure(value, percents=False),
    }
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        forms.add(encode(raw).decode("ascii").rstrip("="))
    return forms


REGISTRY = SecretRegistry()


def redact(text: str) -> str:
    return REGISTRY.redact(text)
