"""The last lines of an environment's log, read from its signed download URL.

The URL points to a storage host: it is fetched like the package, with a session that
never held Mendix headers and the same rule for every hop (https; plain http only on
loopback, from a loopback API: see download.check_location). Only the tail is read: a
suffix range first; a host that ignores ranges is streamed, keeping the last bytes,
within a byte budget and a time limit. A log that is gzip-compressed (its format is
undocumented) is decompressed as it streams.
"""

from __future__ import annotations

import zlib
from collections import deque
from dataclasses import dataclass

import requests
import urllib3

from ci_step.errors import StepError
from ci_step.inert import printable
from ci_step.mendix import download, watchdog
from ci_step.secrets import redact

TAIL_BYTES = 128 * 1024  # enough for 200 lines (the most log-tail asks) of 650 bytes
READ_BUDGET = 32 * 1024 * 1024  # at most this much of a log is streamed to find its end
TIME_LIMIT = 20.0  # seconds for the whole read
STEP = 256 * 1024  # bytes read, or inflated, at a time
GZIP_MAGIC = b"\x1f\x8b"
DOING = "reading the environment's log"


@dataclass(frozen=True)
class Tail:
    lines: tuple[str, ...]
    complete: bool  # False: the budget ran out before the end of the log


def tail(storage: download.Storage, url: str, max_lines: int = 50) -> Tail:
    """The last ``max_lines`` lines of the log at ``url``."""
    headers = {"Accept-Encoding": "identity", "Range": f"bytes=-{TAIL_BYTES}"}
    url = download.check_location(
        url, "The log's download URL from the Mendix API", storage.api_root
    )
    try:
        with (
            watchdog.within(storage.deadline, DOING, TIME_LIMIT),
            download.open_checked(storage, url, headers) as response,
        ):
            data, complete = _read(response)
    except (
        requests.RequestException,
        urllib3.exceptions.HTTPError,
        OSError,
        zlib.error,
        watchdog.SlowAnswer,
    ) as exc:
        raise StepError(
            f"The environment's log could not be read ({type(exc).__name__})."
        ) from None
    return Tail(_last_lines(data, max_lines), complete)


def _read(response: requests.Response) -> tuple[bytes, bool]:
    status = response.status_code
    if status not in (200, 206):
        raise StepError(f"The storage host answered HTTP {status} for the environment's log.")
    first = response.raw.read(len(GZIP_MAGIC), decode_content=False)
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if first == GZIP_MAGIC else None
    if status == 206 and inflate is None:
        rest = response.raw.read(TAIL_BYTES, decode_content=False)
        return first + rest, True
    if status == 206:  # a range of a compressed file cannot be inflated: read it whole
        response.close()
        raise StepError("The environment's log is compressed and its host only sent a part.")
    return _stream_tail(response, first, inflate)


def _stream_tail(
    response: requests.Response, first: bytes, inflate: zlib._Decompress | None
) -> tuple[bytes, bool]:
    """The last TAIL_BYTES of the (inflated) log; False when READ_BUDGET ran out first.

    The budget counts inflated bytes too, and inflating is done in bounded steps, so a
    small compressed answer cannot make a large one in memory."""
    tail = _Tail()
    chunk = first
    while chunk:
        if inflate is None:
            tail.add(chunk)
        else:
            data = chunk
            while data:
                tail.add(inflate.decompress(data, STEP))
                data = inflate.unconsumed_tail
                if tail.seen >= READ_BUDGET:
                    return tail.bytes(), False
        if tail.seen >= READ_BUDGET:
            return tail.bytes(), False
        chunk = response.raw.read1(STEP, decode_content=False)
    return tail.bytes(), True


class _Tail:
    """The last TAIL_BYTES of what was added, and how many bytes were seen."""

    def __init__(self) -> None:
        self.kept: deque[bytes] = deque()
        self.size = 0
        self.seen = 0

    def add(self, data: bytes) -> None:
        self.seen += len(data)
        self.kept.append(data[-TAIL_BYTES:])
        self.size += len(self.kept[-1])
        while self.size - len(self.kept[0]) >= TAIL_BYTES:
            self.size -= len(self.kept.popleft())

    def bytes(self) -> bytes:
        return b"".join(self.kept)[-TAIL_BYTES:]


def _last_lines(data: bytes, max_lines: int) -> tuple[str, ...]:
    text = data.decode("utf-8", errors="replace").replace("\r\n", "\n")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(data) >= TAIL_BYTES and len(lines) > 1:
        lines = lines[1:]  # the first line of a tail is likely cut
    return tuple(_printable(line) for line in lines[-max_lines:])


def _printable(line: str) -> str:
    """A line without control characters (a log is foreign text) nor secrets; long lines
    shortened once the secrets are masked (a secret cut in two is a mask's no more)."""
    clean = printable(redact(line))
    return clean if len(clean) <= 500 else clean[:497] + "..."
