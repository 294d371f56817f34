"""What a simulated call answers, before the server turns it into bytes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Reply:
    status: int
    body: Any = None  # JSON-able, or bytes
    headers: dict[str, str] = field(default_factory=dict)
    chunks: Iterator[bytes | memoryview] | None = None
    length: int = 0
    close: bool = False  # close the connection after the answer


def error(status: int, code: str, message: str) -> Reply:
    """A Mendix v1 error body."""
    return Reply(status, {"errorCode": code, "errorMessage": message})
