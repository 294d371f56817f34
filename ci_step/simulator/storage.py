"""The storage host that serves signed locations as S3 does, with its faults.

``GET /mda/{token}/{name}`` (a package's ``?url=true`` location) and ``GET
/logs/{token}/{name}`` (an environment's log of a day, ``DownloadUrl``), with byte ranges
(``bytes=A-B``, ``bytes=A-``, and the suffix ``bytes=-N``: the last N bytes). Faults:
``expire`` (403 as for an expired URL, at once or after ``after_bytes``), ``ignore-range``
(200 with the whole file), ``not-zip`` (packages: an XML error page in place of the
package), ``truncate`` (promise the full length, send ``after_bytes``, close).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator

from ci_step.simulator import content
from ci_step.simulator.deploy_api import has_log
from ci_step.simulator.environments import find
from ci_step.simulator.faults import Fault
from ci_step.simulator.logs import LogText, day
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
    seed, size = package.seed, package.size

    def stream(start: int, end: int) -> Iterator[bytes | memoryview]:
        if fault.kind == "not-zip":
            return content.error_page(size, start, end)
        return content.stream(seed, size, start, end)

    return _ranged(service, call, fault, size, stream, "application/octet-stream")


def download_log(service: BuildService, call: Call) -> Reply:
    """The day's log as it is now (today's grows), UTF-8 text lines."""
    with service.lock:
        link, expired = service.log_lookup(call.params["token"])
        text = _log_text(service, link.app_id, link.mode, link.date) if link else None
    if text is None:
        return _not_found()
    fault = call.fault or Fault("none")
    if expired or (fault.kind == "expire" and not fault.after_bytes):
        return _expired()
    return _ranged(service, call, fault, text.size, text.stream, "text/plain; charset=utf-8")


def _log_text(service: BuildService, app_id: str, mode: str, date: str) -> LogText | None:
    """The log of ``date``: its filler lines end where the service started, or at midnight."""
    app = service.apps.get(app_id)
    environment = find(app.environments, mode) if app else None
    if environment is None or not has_log(service, environment, date):
        return None
    events = [(service.wall(e.at), e) for e in environment.log_events]
    midnight = dt.datetime.fromisoformat(date).replace(tzinfo=dt.UTC).timestamp()
    until = min(max(service.wall(0.0), midnight), midnight + 86_400)
    return LogText.build(
        date,
        environment.log_lines,
        [(wall, e) for wall, e in events if day(wall) == date],
        environment.log_tail,
        until,
    )


def _ranged(
    service: BuildService,
    call: Call,
    fault: Fault,
    size: int,
    stream: Callable[[int, int], Iterator[bytes | memoryview]],
    media: str,
) -> Reply:
    """The bytes ``stream(start, end)`` of a ``size``-byte file the Range header asks for."""
    span = _span(call.headers.get("range"), size, fault)
    if span is None:
        return Reply(416, b"", {"Content-Range": f"bytes */{size}"})
    status, start, end = span
    reply = Reply(
        status,
        headers={"Content-Type": media, "Accept-Ranges": "bytes"},
        chunks=stream(start, end),
        length=end - start,
    )
    if status == 206:
        reply.headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    if fault.kind == "truncate" or (fault.kind == "expire" and fault.after_bytes > 0):
        reply.chunks = stream(start, min(end, start + fault.after_bytes))
        reply.close = True
        if fault.kind == "expire":
            service.expire_all()
    return reply


STORAGE: Router[BuildService] = Router(
    [
        Route("GET", "mda/{token}/{name}", download),
        Route("GET", "logs/{token}/{name}", download_log),
    ],
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
    suffix = re.fullmatch(r"bytes=-(\d+)", value.strip())
    if suffix is not None:
        length = int(suffix.group(1))
        return (max(0, size - length), size) if length > 0 and size > 0 else None
    match = re.fullmatch(r"bytes=(\d+)-(\d*)", value.strip())
    if match is None:
        return None
    start = int(match.group(1))
    end = int(match.group(2)) + 1 if match.group(2) else size
    if start >= size or end <= start:
        return None
    return start, min(end, size)
