"""Injected misbehaviour: a fault is matched per request by listener, method and path."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


@dataclass
class Fault:
    """One injected misbehaviour.

    kind: ``status`` (answer ``status``, HTML body for 5xx, optional Retry-After),
    ``reset`` (drop the connection with a TCP reset), ``delay`` (answer late),
    ``truncate`` (storage: promise the full length, send ``after_bytes``, close),
    ``expire`` (storage: 403 as for an expired URL, optionally after ``after_bytes``),
    ``ignore-range`` (storage: answer 200 with the whole file), ``redirect``
    (answer ``status`` if it is a 3xx, else 302, to ``location``; without one, to the
    request's own path and query: with ``times=-1`` a loop), ``trickle`` (send the body
    one byte every ``delay`` seconds, 0.2 unless given), ``slow-headers`` (send the status
    line and headers that way), ``location`` (API: the package's ``Url.Location`` is
    ``location``), ``not-zip`` (storage: an S3-style XML error page padded to the
    package's size, answered 200), ``rewrite`` (API: answer as usual, with ``field_value``
    as the text of the field ``field_name``, or of each of ``A|B``, in the package or each
    package of the answer), ``pause`` (send ``after_bytes`` of the body, or nothing at
    all when 0, then stall until the file ``until`` exists, at most ``delay`` seconds or
    PAUSE_LIMIT; without ``until`` for ``delay`` seconds: a test acts while a download or
    an answer is under way, and lets it go on), ``padded`` (API: the usual JSON answer
    followed by white space up to ``size`` bytes: still valid JSON, however large),
    ``nested`` (API: answer 200 with ``size`` nested JSON arrays, ``[[…]]``: valid JSON,
    however deep).
    ``process``: for status/reset, carry out the request first (the change
    happens, the answer is lost). ``times``: how many requests it hits (-1: all).
    """

    kind: str
    listener: str = "api"
    method: str | None = None
    path: str | None = None
    times: int = 1
    status: int = 503
    retry_after: str | None = None
    delay: float = 0.0
    after_bytes: int = 0
    location: str = ""
    process: bool = False
    body: str | None = None  # status: answer this JSON text instead of the default body
    field_name: str = ""
    field_value: str = ""
    until: str = ""  # pause: the file whose appearance ends the stall
    size: int = 0  # padded: the answer's length in bytes; nested: the depth

    def matches(self, listener: str, method: str, path: str) -> bool:
        return (
            self.times != 0
            and self.listener == listener
            and (self.method is None or self.method == method)
            and (self.path is None or re.search(self.path, path) is not None)
        )


FAULT_KINDS = (
    "status",
    "reset",
    "delay",
    "truncate",
    "expire",
    "ignore-range",
    "redirect",
    "rewrite",
    "trickle",
    "slow-headers",
    "location",
    "not-zip",
    "pause",
    "padded",
    "nested",
)
PAUSE_LIMIT = 60.0  # seconds: the longest pause, unless the fault gives a delay
PACE = 0.2  # seconds per byte of trickle and slow-headers, unless the fault gives a delay
_FAULT_FIELDS = {
    "listener": str,
    "method": str,
    "path": str,
    "times": int,
    "status": int,
    "retry_after": str,
    "delay": float,
    "after_bytes": int,
    "location": str,
    "process": bool,
    "body": str,
    "field_name": str,
    "field_value": str,
    "until": str,
    "size": int,
}


def parse_fault(spec: str) -> Fault:
    """``KIND[:key=value,...]``, for example ``status:status=503,times=3,retry_after=2``."""
    kind, _, rest = spec.partition(":")
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; one of {', '.join(FAULT_KINDS)}")
    values = parse_settings(rest, _FAULT_FIELDS, "fault")
    if kind in ("truncate", "expire", "ignore-range", "not-zip"):
        values.setdefault("listener", "storage")
    if kind == "padded" and values.get("listener", "api") != "api":
        raise ValueError("padded: only the api listener (it pads the API's JSON answers)")
    return Fault(kind, **values)


def parse_settings(text: str, fields: dict[str, type], what: str) -> dict[str, Any]:
    """``key=value,...`` (``-`` in a key reads as ``_``), each value converted by its
    field's type; ValueError names the setting ``what`` cannot take."""
    values: dict[str, Any] = {}
    for item in filter(None, text.split(",")):
        key, eq, value = item.partition("=")
        key = key.strip().replace("-", "_")
        convert = fields.get(key)
        if convert is None or not eq:
            raise ValueError(f"bad {what} setting {item!r}; keys: {', '.join(fields)}")
        if convert is bool:
            values[key] = value.strip().lower() in ("1", "true", "yes")
        else:
            try:
                values[key] = convert(value.strip())
            except ValueError:
                raise ValueError(f"bad value in {what} setting {item!r}") from None
    return values
