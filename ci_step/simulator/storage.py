"""The storage host that serves ``?url=true`` locations as S3 does, with its faults.

One endpoint, ``GET /mda/{token}/{name}``, with byte ranges. Faults: ``expire`` (403 as
for an expired URL, at once or after ``after_bytes``), ``ignore-range`` (200 with the
whole file), ``not-zip`` (an XML error page in place of the package), ``truncate``
(promise the full length, send ``after_bytes``, close).
"""

from __future__ import annotations

import re

from ci_step.simulator import content
from ci_step.simulator.faults import Fault
from ci_step.simulator.reply import Reply
from ci_step.simulator.routes import Call, Route, Router
from ci_step.simulator.state import BuildService


def _not_found() -> Reply:
    return Reply(404, b"Not found", {"Content-Type": "text/plain"})


def download(service: BuildService, call: Call) -> Reply:
    package, expired = service.storage_lookup(call.params["token"])
    if package is None:
        return _not_found()
    fault = call.fault or Fault("none")  # no fault: a kind that none below names
    if expired or (fault.kind == "expire" and not fault.after_bytes):
        return _expired()
    size = package.size
    span = _span(call.headers.get("range"), size, fault)
    if span is None:
        return Reply(416, b"", {"Content-Range": f"bytes */{size}"})
    status, start, end = span
    reply = Reply(
        status,
        headers={"Content-Type": "application/octet-stream", "Accept-Ranges": "bytes"},
        chunks=content.stream(package.seed, size, start, end),
        length=end - start,
    )
    if fault.kind == "not-zip":
        reply.chunks = content.error_page(size, start, end)
    if status == 206:
        reply.headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    if fault.kind == "truncate" or (fault.kind == "expire" and fault.after_bytes > 0):
        reply.chunks = content.stream(
            package.seed, size, start, min(end, start + fault.after_bytes)
        )
        reply.close = True
        if fault.kind == "expire":
            service.expire_all()
    return reply


STORAGE: Router[BuildService] = Router(
    [Route("GET", "mda/{token}/{name}", download)],
    unknown=_not_found,
    wrong_method=_not_found,
)


def _span(wanted: str | None, size: int, fault: Fault) -> tuple[int, int, int] | None:
    """(status, start, end) for a Range header; None if it cannot be satisfied."""
    if not wanted or fault.kind == "ignore-range":
        return 200, 0, size
    bounds = _range(wanted, size)
    return None if bounds is None else (206, *bounds)


def _expired() -> Reply:
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
        b"<Message>Request has expired</Message></Error>"
    )
    return Reply(403, body, {"Content-Type": "application/xml"})


def _range(value: str, size: int) -> tuple[int, int] | None:
    match = re.fullmatch(r"bytes=(\d+)-(\d*)", value.strip())
    if match is None:
        return None
    start = int(match.group(1))
    end = int(match.group(2)) + 1 if match.group(2) else size
    if start >= size or end <= start:
        return None
    return start, min(end, size)
