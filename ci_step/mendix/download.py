"""Fetch the .mda from the storage URL: streamed, resumed, verified, renamed into place.

The storage URL carries its own authorisation; the session used here never
holds Mendix credentials. The bytes go to a temporary file beside the target
and are renamed only once verified: the byte count equals the package's Size
(when the API gives one) and the file is a well-formed ZIP archive (see
ci_step.mendix.zipcheck); the sha256 reported is of exactly those bytes. On any
failure the temporary file is removed: nothing partial is left behind. The file is
written from its directory as opened in the workspace (ci_step.files.Replacement): a
directory or the temporary file swapped for a symlink meanwhile ends the download.

Redirects are followed here, hop by hop, each checked before it is requested:
https to any host, plain http only to loopback (from a loopback API), at most
MAX_REDIRECTS. Each exchange, redirects included, ends by the deadline (see
ci_step.mendix.watchdog). A storage host whose certificate does not verify ends the
download at once: no retry can change that.
"""

from __future__ import annotations

import contextlib
import hashlib
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from ci_step import files
from ci_step.clock import Deadline
from ci_step.domain.hosts import is_https_or_loopback, is_loopback_http
from ci_step.errors import DownloadError, input_name
from ci_step.mendix import watchdog, zipcheck
from ci_step.mendix.transport import (
    RETRY_STATUSES,
    TRUST_FIX,
    certificate_problem,
    given_credentials_only,
)
from ci_step.retry import Backoff, Tries

CHUNK = 1 << 20  # bytes asked for in one read: a whole chunk, unless the answer ends first
QUEUE_CHUNKS = 8  # at most this many chunks (of up to CHUNK bytes) wait to be written
MAX_STALLS = 5  # consecutive tries that brought no bytes
# after a try that brought no bytes: 0.5 s, 1 s, 2 s, 4 s, 4 s; the sixth such try ends it
STALL_BACKOFF = Backoff(first=0.5, cap=4.0, jitter=False, tries=MAX_STALLS + 1)
MAX_REFRESHES = 3
MAX_REDIRECTS = 10
EXPIRED_STATUSES = frozenset({401, 403, 410})
DOING = "downloading the package"
PACKAGE_LOCATION = "The package location from the Mendix API"


@dataclass(frozen=True)
class Artifact:
    path: Path
    sha256: str
    size: int


Progress = Callable[[int, int | None], None]
Refresh = Callable[[], str]
Notice = Callable[[str], None]


class _Sink:
    """The temporary file and the running hash of what it holds.

    Two worker threads, one writing and one hashing, take each chunk while the caller
    receives the next (all three release the GIL): SHA-256 is the slowest of the three,
    so it gets a core to itself. Sizes are counted on the caller's side; a write error
    surfaces on the next call.
    """

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.hasher = hashlib.sha256()
        self.size = 0
        self._error: OSError | None = None
        self._writes: queue.Queue[bytes | None] = queue.Queue(maxsize=QUEUE_CHUNKS)
        self._hashes: queue.Queue[bytes | None] = queue.Queue(maxsize=QUEUE_CHUNKS)
        self._workers = [
            threading.Thread(target=self._work, args=(q, job), name=name, daemon=True)
            for q, job, name in (
                (self._writes, self._write, "mda-writer"),
                (self._hashes, self._hash, "mda-hasher"),
            )
        ]
        for worker in self._workers:
            worker.start()

    def _write(self, chunk: bytes) -> None:
        if self._error is None:
            try:
                self.out.write(chunk)
            except OSError as exc:
                self._error = exc  # keep draining, so the caller never blocks

    def _hash(self, chunk: bytes) -> None:
        self.hasher.update(chunk)

    @staticmethod
    def _work(jobs: queue.Queue[bytes | None], job: Callable[[bytes], None]) -> None:
        while True:
            chunk = jobs.get()
            try:
                if chunk is None:
                    return
                job(chunk)
            finally:
                jobs.task_done()

    def _drain(self) -> None:
        self._writes.join()
        self._hashes.join()
        if self._error is not None:
            raise DownloadError(
                f"Cannot write the package: {self._error.strerror or self._error}.",
                fix=f"free disk space or choose another {input_name('artifact-path')}",
            )

    def write(self, chunk: bytes) -> None:
        if self._error is not None:
            self._drain()
        self._writes.put(chunk)
        self._hashes.put(chunk)
        self.size += len(chunk)

    def restart(self) -> None:
        self._drain()
        self.out.seek(0)
        self.out.truncate()
        self.hasher = hashlib.sha256()
        self.size = 0

    def finish(self) -> str:
        """Wait for every chunk to be written and hashed; the hex digest of the file."""
        self._drain()
        return self.hasher.hexdigest()

    def close(self) -> None:
        self._writes.put(None)
        self._hashes.put(None)
        for worker in self._workers:
            worker.join(timeout=30)


def check_location(url: str, what: str, api_root: str) -> str:
    """``url`` when a package may be fetched from it; DownloadError naming ``what`` if not.

    The rule for the API's package location and every redirect hop alike: https to any
    host; plain http only to a loopback address, and only when ``api_root`` (the API the
    location came from) is plain http on loopback too, as the simulator is. A storage host
    of an https API cannot make the runner call one of its own local services.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        _ = parts.port
    except ValueError:
        raise DownloadError(f"{what} is not a URL; it was not followed.") from None
    local_root = is_loopback_http(api_root)
    if is_https_or_loopback(parts.scheme, host) and (parts.scheme == "https" or local_root):
        return url
    rule = (
        "https, or plain http to a loopback address, only"
        if local_root
        else f"https only (plain http to a loopback address only when {input_name('base-url')} "
        "is one too)"
    )
    raise DownloadError(
        f"{what} goes to {_origin(parts.scheme, host)}; it was not followed: a package is "
        f"fetched over {rule}.",
        fix="check the storage host; a package location must be an https URL",
    )


def _origin(scheme: str, host: str) -> str:
    """scheme://host of a foreign URL, restricted to characters that are safe to print."""
    text = f"{scheme}://{host}"
    safe = "".join(c for c in text if c.isascii() and (c.isalnum() or c in ".-:/[]"))
    return safe[:100] or "an unnamed place"


@dataclass(frozen=True)
class Storage:
    """The storage host as a download sees it: a session that never held Mendix headers,
    the step's deadline, and where a fresh URL, progress and notices come from and go."""

    session: requests.Session
    deadline: Deadline
    refresh: Refresh
    progress: Progress
    notice: Notice
    api_root: str  # the API the locations come from (see check_location)
    read_timeout: float = 60.0

    def __post_init__(self) -> None:
        given_credentials_only(self.session)  # never a ~/.netrc entry to the storage host
        watchdog.guard(self.session)  # every exchange with the storage host ends by the deadline


def fetch(
    storage: Storage, url: str, target: Path, expected_size: int | None, workspace: Path
) -> Artifact:
    """Download to ``target``, a file inside ``workspace`` (see ci_step.files: written from
    the directory opened there, renamed only while the path still leads to it)."""
    with _writing(f"write the package next to {target}"):
        new = files.Replacement(workspace, target, ".part")
    with new:
        digest, size = _receive(storage, url, new.file, expected_size)
        # No fsync: the rename keeps partial files from the final name; surviving a power
        # cut is not worth flushing a whole package to disk in a CI job.
        with _writing(f"put the package at {target}"):
            new.commit()
    return Artifact(path=target, sha256=digest, size=size)


@contextlib.contextmanager
def _writing(doing: str) -> Iterator[None]:
    """A workspace change (files.Changed) or an OSError while ``doing`` as a DownloadError."""
    try:
        yield
    except files.Changed as exc:
        raise DownloadError(
            f"The package was not written: {exc}.",
            fix="make sure nothing else in the job moves or replaces files in the workspace "
            "while the step runs",
        ) from None
    except OSError as exc:
        raise DownloadError(
            f"Cannot {doing}: {exc.strerror or exc}.",
            fix=f"set {input_name('artifact-path')} to a file in a writable directory",
        ) from None


def _receive(storage: Storage, url: str, out: BinaryIO, expected: int | None) -> tuple[str, int]:
    """Fetch into ``out`` and verify it: the sha256 and the size of what arrived."""
    sink = _Sink(out)
    try:
        _transfer(storage, url, sink, expected)
        digest = sink.finish()
    finally:
        sink.close()
    if expected is not None and sink.size != expected:
        raise DownloadError(
            f"The download holds {sink.size} bytes but the package Size is {expected}."
        )
    not_zip = zipcheck.problem(out, sink.size)
    if not_zip is not None:
        raise DownloadError(
            f"The download is not a deployment package (a ZIP archive): {not_zip}.",
            fix="re-run the job; if it happens again, the storage host is sending "
            "something other than the package (an error page?)",
        )
    return digest, sink.size


def _transfer(storage: Storage, url: str, sink: _Sink, expected: int | None) -> None:
    deadline, notice = storage.deadline, storage.notice
    tries = Tries(STALL_BACKOFF, deadline)
    refreshes = 0
    while True:
        before = sink.size
        headers = {"Accept-Encoding": "identity"}
        if sink.size:
            headers["Range"] = f"bytes={sink.size}-"
        try:
            with (
                watchdog.within(deadline, DOING),
                open_checked(storage, url, headers) as response,
            ):
                status = response.status_code
                if status in EXPIRED_STATUSES:
                    refreshes += 1
                    if refreshes > MAX_REFRESHES:
                        raise DownloadError(
                            f"The storage host kept refusing the package URL (HTTP {status}) "
                            f"after {MAX_REFRESHES} fresh URLs."
                        )
                    notice(f"package URL refused (HTTP {status}); asking for a new one")
                    url = storage.refresh()
                    continue
                if status == 416 and expected is not None and sink.size == expected:
                    return
                if status in RETRY_STATUSES:
                    raise _Cut(f"storage host answered HTTP {status}")
                _position(response, sink, notice)
                _copy(response, sink, expected, storage)
            if expected is None or sink.size >= expected:
                return
            reason = f"the download ended early at {sink.size} of {expected} bytes"
        except (_Cut, *CUTS) as exc:
            reason = str(exc) if isinstance(exc, _Cut) else f"connection cut ({type(exc).__name__})"
        wait: float | None = 0.0
        if sink.size > before:
            tries.progressed()
        else:
            wait = tries.failed()
        if wait is None:
            raise DownloadError(
                f"The download made no progress in {tries.failures} tries ({reason}); "
                f"{sink.size} bytes arrived."
            )
        notice(f"{reason}; resuming at byte {sink.size}")
        if wait:
            tries.sleep(wait, DOING)


def open_checked(storage: Storage, url: str, headers: dict[str, str]) -> requests.Response:
    """The answer for ``url`` (streamed), following redirects that check_location allows."""
    what = PACKAGE_LOCATION
    for hop in range(MAX_REDIRECTS + 1):
        left = storage.deadline.check(DOING)
        timeout = (min(10.0, left), min(storage.read_timeout, left))
        try:
            response = storage.session.get(
                url, headers=headers, stream=True, timeout=timeout, allow_redirects=False
            )
        except requests.exceptions.InvalidURL:
            raise DownloadError(f"{what} is not a usable URL; it was not followed.") from None
        except requests.exceptions.SSLError as exc:
            _untrusted(exc, url)
            raise
        except ValueError:  # requests parses a redirect's Location even when not following it
            raise DownloadError(
                f"Redirect {hop + 1} of the download is not a URL; it was not followed."
            ) from None
        if not response.is_redirect:
            return response
        location = response.headers["Location"]
        response.close()
        if hop == MAX_REDIRECTS:
            raise DownloadError(
                f"The storage host redirected the download more than {MAX_REDIRECTS} times "
                "(a redirect loop?); the last hop was not followed."
            )
        try:
            target = urljoin(url, location)
        except ValueError:
            target = location
        what = f"Redirect {hop + 1} of the download"
        url = check_location(target, what, storage.api_root)
    raise AssertionError("unreachable")


def _untrusted(exc: requests.exceptions.SSLError, url: str) -> None:
    """DownloadError when ``exc`` is a certificate that did not verify: no try can fix it."""
    refused = certificate_problem(exc)
    if refused is not None:
        parts = urlsplit(url)
        raise DownloadError(
            f"The certificate of the storage host {_origin(parts.scheme, parts.hostname or '')}"
            f" is not trusted: {refused}; the package was not fetched.",
            fix=TRUST_FIX,
        ) from None


class _Cut(Exception):
    """The transfer stopped in a way worth resuming."""


CUTS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


def _copy(response: requests.Response, sink: _Sink, expected: int | None, storage: Storage) -> None:
    deadline, progress = storage.deadline, storage.progress
    raw = response.raw
    while True:
        try:
            # A whole chunk per call. Over TLS a socket read returns one record (at most
            # 16 KiB); the reads that fill the chunk loop inside io.BufferedReader, so the
            # work of urllib3's read, the sink, progress and the deadline check is done once
            # per chunk, not once per record. The bytes of a chunk being read when the
            # connection is reset are not kept: the resume asks for them again. A cut that
            # reads as the end of the answer (the server closing, the deadline's shutdown)
            # keeps every byte that arrived.
            chunk = raw.read(CHUNK, decode_content=False)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise _Cut(f"connection cut ({type(exc).__name__})") from None
        if not chunk:
            return
        sink.write(chunk)
        progress(sink.size, expected)
        if expected is not None and sink.size > expected:
            raise DownloadError(
                f"The storage host sent more than the package Size of {expected} bytes."
            )
        deadline.check(DOING)


def _position(response: requests.Response, sink: _Sink, notice: Notice) -> None:
    """Line the sink up with what the server is sending (resume or start over)."""
    status = response.status_code
    if status == 206 and sink.size:
        start = _content_range_start(response.headers.get("Content-Range", ""))
        if start == sink.size:
            return
        notice("storage host resumed at another offset; starting over")
        sink.restart()
        raise _Cut("the storage host answered a range that was not asked for")
    if status == 200:
        if sink.size:
            notice("storage host ignored the range request; starting over")
            sink.restart()
        return
    raise DownloadError(
        f"The storage host answered HTTP {status} for the package URL.",
    )


def _content_range_start(value: str) -> int | None:
    # "bytes 100-199/200"
    try:
        unit, rest = value.split(" ", 1)
        if unit != "bytes":
            return None
        return int(rest.split("-", 1)[0])
    except ValueError:
        return None
