"""Real HTTP listeners for the simulated Build API and its storage host, with faults.

Three listeners on loopback: the API (``/api/1/...``), a storage host that serves
``?url=true`` locations, so tests can see which host got which headers, and the apps the
environments run (``/{app}/{mode}/``, with the Unit Testing module's remote API: apps.py).
The storage host speaks https when given a certificate and its key (``storage_tls``), as
real storage hosts do; the TLS handshake happens in the connection's own thread, so a
client that never completes one holds up no other.
Every request is logged (and handed to ``on_answer`` once answered, for a person to
watch); faults are matched per request and used up.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import socket
import ssl
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from ci_step.simulator import api, apps
from ci_step.simulator.faults import PACE, PAUSE_LIMIT, Fault
from ci_step.simulator.reply import Reply
from ci_step.simulator.routes import Call
from ci_step.simulator.state import BuildService
from ci_step.simulator.storage import STORAGE

JSON_TYPE = {"Content-Type": "application/json"}
PAD_PIECE = 1 << 16
HTML_ERROR = "<html><head><title>{0}</title></head><body><h1>{0}</h1></body></html>"
# A client that goes away mid-answer is normal here (timeouts, cut downloads): over TLS the
# write then fails as an SSLError (EOF in violation of the protocol), not a ConnectionError.
CLIENT_GONE = (ConnectionError, ssl.SSLError)
REASONS = {
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass
class SimRequest:
    listener: str
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)
    fault: str = ""
    status: int = 0  # the status answered (0: none, e.g. the connection was reset)
    sent: int = 0  # bytes of the answer's body written before it ended or the client left
    answered: threading.Event = field(default_factory=threading.Event)  # sent is final

    def line(self) -> str:
        """One line for a person: method, path and status; never a header, so never a key.
        A storage location's token (its signature) is left out too, and a path's bytes that
        are not visible ASCII (a terminal's escape sequences) are shown as %XX."""
        path = _UNSEEN.sub(lambda byte: f"%{ord(byte[0]):02X}", self.path)
        path = _TOKEN.sub(r"\1…/", path) if self.listener == "storage" else path
        answered = str(self.status) if self.status else "no answer"
        fault = f" (fault: {self.fault})" if self.fault else ""
        return f"{self.method} {path} {answered}{fault}"


_TOKEN = re.compile(r"^(/[^/]+/)[^/]+/")  # /mda/{token}/…, /logs/{token}/…
# Not visible ASCII: the request line is read as Latin-1, so each is one byte of the path.
_UNSEEN = re.compile(r"[^\x21-\x7e]")


class ListenError(Exception):
    """A listener could not open its address: ``port_taken`` (the port is in use) or the
    system's ``reason``."""

    def __init__(self, listener: str, address: tuple[str, int], cause: OSError) -> None:
        self.listener = listener
        self.host, self.port = address
        self.port_taken = cause.errno == errno.EADDRINUSE
        self.reason = "the port is in use" if self.port_taken else cause.strerror or str(cause)
        super().__init__(f"cannot listen on {self.host}:{self.port}: {self.reason}")


class Simulator:
    def __init__(
        self,
        service: BuildService,
        host: str = "127.0.0.1",
        port: int = 0,
        storage_port: int = 0,
        app_port: int = 0,
        storage_tls: tuple[str, str] | None = None,
    ) -> None:
        """``storage_tls``: (certificate file, key file) to serve the storage host over
        https; ssl.SSLError or OSError when they cannot be loaded."""
        self.service = service
        self.faults: list[Fault] = []
        self.log: list[SimRequest] = []
        self.on_answer: Callable[[SimRequest], None] | None = None  # each request, answered
        self._lock = threading.Lock()
        self._servers: list[_Server] = []
        try:
            for listener, at in (("api", port), ("storage", storage_port), ("app", app_port)):
                self._servers.append(_listen(self, listener, (host, at)))
            if storage_tls is not None:
                self._servers[1].tls = _server_context(*storage_tls)
        except (ListenError, OSError):
            for server in self._servers:
                server.server_close()
            raise
        self._threads: list[threading.Thread] = []
        service.storage_base = _url(self._servers[1])

    @property
    def base_url(self) -> str:
        return _url(self._servers[0])

    @property
    def storage_url(self) -> str:
        return self.service.storage_base

    @property
    def app_base_url(self) -> str:
        """The app listener: each environment's app at ``/{app}/{mode}``."""
        return _url(self._servers[2])

    def app_url(self, app_id: str, mode: str) -> str:
        """The root URL of the app an environment runs, on the app listener."""
        return f"{self.app_base_url}/{quote(app_id, safe='')}/{quote(mode, safe='')}"

    def serve_app_urls(self) -> None:
        """Give every environment of every app its URL on the app listener, so its ``Url``
        leads to an app that answers (the Unit Testing module's remote API)."""
        with self.service.lock:
            for app in self.service.apps.values():
                for mode, environment in app.environments.items():
                    environment.url = self.app_url(app.app_id, mode)

    def start(self) -> Simulator:
        for server in self._servers:
            thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def add_fault(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def take_fault(self, listener: str, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(listener, method, path):
                    if fault.times > 0:
                        fault.times -= 1
                    return fault
        return None

    def record(self, entry: SimRequest) -> None:
        with self._lock:
            self.log.append(entry)

    def requests(
        self, listener: str | None = None, method: str | None = None, path: str | None = None
    ) -> list[SimRequest]:
        with self._lock:
            entries = list(self.log)
        return [
            e
            for e in entries
            if (listener is None or e.listener == listener)
            and (method is None or e.method == method)
            and (path is None or re.search(path, e.path) is not None)
        ]


def _server_context(cert: str, key: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64
    tls: ssl.SSLContext | None = None  # https: each accepted connection is wrapped in it

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        """The TLS handshake, in the connection's thread; one that fails ends only it."""
        if self.tls is not None:
            try:
                request.settimeout(30)
                request = self.tls.wrap_socket(request, server_side=True)
                request.settimeout(None)
            except OSError:
                self.shutdown_request(request)
                return
        super().process_request_thread(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], CLIENT_GONE):
            super().handle_error(request, client_address)


def _listen(sim: Simulator, listener: str, address: tuple[str, int]) -> _Server:
    try:
        return _Server(address, _handler_for(sim, listener))
    except OSError as exc:
        raise ListenError(listener, address, exc) from None


def _url(server: _Server) -> str:
    host, port = server.server_address[:2]
    name = host.decode() if isinstance(host, bytes) else str(host)
    shown = f"[{name}]" if ":" in name else name
    scheme = "http" if server.tls is None else "https"
    return f"{scheme}://{shown}:{port}"


def _handler_for(sim: Simulator, listener: str) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        simulator = sim
        role = listener

    return Handler


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "MendixBuildSimulator/1"
    disable_nagle_algorithm = True  # headers and body go out in two writes
    simulator: Simulator
    role: str
    _entry: SimRequest  # the request being answered: its status and bytes sent

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def _serve(self) -> None:
        split = urlsplit(self.path)
        length = _length(self.headers.get("Content-Length") or "0")
        if length is None:  # a body that cannot be framed: the connection ends after this
            self.send_error(400, "Bad Content-Length")
            return
        body = self.rfile.read(length) if length > 0 else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        entry = SimRequest(
            self.role, self.command, split.path, dict(parse_qsl(split.query)), headers, body
        )
        fault = self.simulator.take_fault(self.role, self.command, entry.path)
        entry.fault = fault.kind if fault else ""
        self.simulator.record(entry)
        self._entry = entry
        try:
            self._answer(entry, fault)
        finally:
            entry.answered.set()
            if self.simulator.on_answer is not None:
                self.simulator.on_answer(entry)

    def _answer(self, entry: SimRequest, fault: Fault | None) -> None:
        if fault is not None and fault.kind == "delay":
            time.sleep(fault.delay)
            fault = None
        if fault is not None and fault.kind in ("status", "reset") and fault.process:
            self._reply(entry, None)
        if fault is not None and fault.kind == "status":
            self._send_status(fault)
            return
        if fault is not None and fault.kind == "reset":
            self._reset()
            return
        if fault is not None and fault.kind == "redirect":
            status = fault.status if 300 <= fault.status < 400 else 302
            self._send(Reply(status, b"", headers={"Location": fault.location or self.path}))
            return
        if fault is not None and fault.kind == "nested":
            self._send(Reply(200, b"[" * fault.size + b"]" * fault.size, JSON_TYPE.copy()))
            return
        reply = self._reply(entry, fault)
        if fault is not None and fault.kind == "rewrite":
            _rewrite(reply.body, fault.field_name, fault.field_value)
        if fault is not None and fault.kind == "padded":
            reply = _padded(reply, fault.size)
        self._send(reply, fault)

    def _reply(self, entry: SimRequest, fault: Fault | None) -> Reply:
        parts = [unquote(p) for p in entry.path.strip("/").split("/")]
        call = Call(entry.method, parts, entry.query, entry.headers, entry.body, fault)
        if self.role == "app":
            return apps.answer(self.simulator.service, call)
        if self.role != "api":
            return STORAGE.dispatch(self.simulator.service, call)
        reply = api.answer(self.simulator.service, call)
        located = isinstance(reply.body, dict) and isinstance(reply.body.get("Url"), dict)
        if fault is not None and fault.kind == "location" and located:
            reply.body["Url"]["Location"] = fault.location
        return reply

    def _send_status(self, fault: Fault) -> None:
        reason = REASONS.get(fault.status, "Error")
        body = HTML_ERROR.format(f"{fault.status} {reason}").encode()
        headers = {"Content-Type": "text/html"}
        if fault.status < 500:
            body = json.dumps(
                {
                    "errorCode": "TOO_MANY_REQUESTS" if fault.status == 429 else "ERROR",
                    "errorMessage": reason,
                }
            ).encode()
            headers = {"Content-Type": "application/json"}
        if fault.body is not None:
            body = fault.body.encode()
            headers = {"Content-Type": "application/json"}
        if fault.retry_after is not None:
            headers["Retry-After"] = fault.retry_after
        self._send(Reply(fault.status, body, headers))

    def _reset(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    def _send(self, reply: Reply, fault: Fault | None = None) -> None:
        """Send ``reply``; a trickle or slow-headers fault paces the body or the head."""
        pace = (fault.delay or PACE) if fault is not None else 0.0
        slow_head = fault is not None and fault.kind == "slow-headers"
        slow_body = fault is not None and fault.kind == "trickle"
        if reply.chunks is not None:
            payload = b""
            length = reply.length
        elif isinstance(reply.body, bytes):
            payload = reply.body
            length = len(payload)
        elif reply.body is None and reply.status == 200:
            payload = b""
            length = 0
        else:
            payload = json.dumps(reply.body).encode()
            reply.headers.setdefault("Content-Type", "application/json")
            length = len(payload)
        if reply.close:
            self.close_connection = True
        self._entry.status = reply.status
        pause = fault.after_bytes if fault is not None and fault.kind == "pause" else None
        try:
            if pause == 0:
                _hold(fault)
            if slow_head:
                self._paced(self._head(reply, length), pace)
            else:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(length))
                self.end_headers()
            chunks = reply.chunks if reply.chunks is not None else iter([payload])
            if pause:
                chunks = _pausing(chunks, pause, lambda: self._flush_and_hold(fault))
            for chunk in chunks:
                if slow_body:
                    self._paced(bytes(chunk), pace)
                elif chunk:
                    self.wfile.write(chunk)
                    self._entry.sent += len(chunk)
            self.wfile.flush()
        except CLIENT_GONE:
            self.close_connection = True

    def _flush_and_hold(self, fault: Fault | None) -> None:
        self.wfile.flush()
        _hold(fault)

    def _head(self, reply: Reply, length: int) -> bytes:
        """The status line and headers that send_response and send_header would write."""
        reason = self.responses.get(reply.status, ("",))[0]
        lines = [f"{self.protocol_version} {reply.status} {reason}"]
        lines += [f"Server: {self.version_string()}", f"Date: {self.date_time_string()}"]
        lines += [f"{name}: {value}" for name, value in reply.headers.items()]
        lines.append(f"Content-Length: {length}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _paced(self, data: bytes, pace: float) -> None:
        for index in range(len(data)):
            self.wfile.write(data[index : index + 1])
            self._entry.sent += 1
            time.sleep(pace)


def _length(text: str) -> int | None:
    """A Content-Length header's bytes; None when it is no count of bytes."""
    return int(text) if re.fullmatch(r"\s*[0-9]+\s*", text) else None


def _hold(fault: Fault | None) -> None:
    """A pause fault's stall: until its file exists (at most its delay or PAUSE_LIMIT
    seconds), or its delay alone when it names no file."""
    if fault is None:
        return
    limit = time.monotonic() + (fault.delay or PAUSE_LIMIT)
    while time.monotonic() < limit:
        if fault.until and os.path.exists(fault.until):
            return
        time.sleep(0.01)


def _pausing(
    chunks: Iterator[bytes | memoryview], after: int, hold: Callable[[], None]
) -> Iterator[bytes | memoryview]:
    """``chunks``, with ``hold()`` called once ``after`` bytes have gone out."""
    sent = 0
    for chunk in chunks:
        if sent < after <= sent + len(chunk):
            cut = after - sent
            yield chunk[:cut]
            hold()
            if cut < len(chunk):
                yield chunk[cut:]
        else:
            yield chunk
        sent += len(chunk)


def _padded(reply: Reply, size: int) -> Reply:
    """``reply``'s JSON followed by spaces up to ``size`` bytes, sent in pieces."""
    payload = json.dumps(reply.body).encode()
    padding = max(0, size - len(payload))

    def chunks() -> Iterator[bytes]:
        yield payload
        left = padding
        while left > 0:
            piece = min(left, PAD_PIECE)
            yield b" " * piece
            left -= piece

    headers = reply.headers | JSON_TYPE
    return Reply(reply.status, headers=headers, chunks=chunks(), length=len(payload) + padding)


def _rewrite(body: Any, names: str, value: str) -> None:
    """Set each of ``names`` (``A|B``) in each package of an API answer that has it."""
    for item in body if isinstance(body, list) else [body]:
        for name in names.split("|"):
            if isinstance(item, dict) and name in item:
                item[name] = value
