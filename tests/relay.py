"""Loopback stand-ins for what sits between a runner and the Mendix APIs: a forward proxy
(plain http requests passed on, https tunnelled with CONNECT) and a TLS front for the
simulator, both recording what they were asked, and a test CA made with openssl."""

from __future__ import annotations

import http.client
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# Headers that belong to one hop, never passed on.
_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "proxy-authorization", "transfer-encoding"}
)


@dataclass(frozen=True)
class Certificates:
    ca: Path  # the CA's certificate: the bundle a client trusts
    cert: Path  # the certificate of 127.0.0.1, signed by the CA
    key: Path


def make_certificates(directory: Path, address: str = "127.0.0.1") -> Certificates:
    """A CA and a server certificate for the IP ``address`` and the name localhost (EC
    keys: quick to make)."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    key = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    openssl(
        "req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=mendix-build test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    openssl("req", *key, "-keyout", "server.key", "-out", "server.csr", "-subj", f"/CN={address}")
    (directory / "server.ext").write_text(
        f"subjectAltName=IP:{address},DNS:localhost\nbasicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        "authorityKeyIdentifier=keyid\n",
        encoding="ascii",
    )
    openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext",
    )  # fmt: skip
    return Certificates(directory / "ca.pem", directory / "server.pem", directory / "server.key")


@dataclass(frozen=True)
class Seen:
    method: str
    url: str  # as asked: absolute for a proxy, host:port for CONNECT, a path for a front
    headers: dict[str, str]  # names in lower case


class Relay:
    """Passes each request on to a plain http origin and records it.

    ``front`` None: a forward proxy (the request line names the whole URL; CONNECT opens a
    tunnel, through which it sees only encrypted bytes). Otherwise it stands in front of
    that origin (``http://host:port``), with TLS when ``tls`` is given.
    """

    def __init__(self, front: str | None = None, tls: Certificates | None = None) -> None:
        self.front = front
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.server.daemon_threads = True
        self.scheme = "http"
        if tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(tls.cert, tls.key)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server.server_address[1]}"

    def target(self, path: str) -> str:
        return path if self.front is None else self.front + path

    def record(self, seen: Seen) -> None:
        with self.lock:
            self.seen.append(seen)


@contextmanager
def running(relay: Relay) -> Iterator[Relay]:
    relay.thread.start()
    try:
        yield relay
    finally:
        relay.server.shutdown()
        relay.server.server_close()
        relay.thread.join(timeout=5)


def _handler_for(relay: Relay) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        owner = relay

    return Handler


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    owner: Relay

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._pass_on()

    def do_POST(self) -> None:
        self._pass_on()

    def do_PUT(self) -> None:
        self._pass_on()

    def do_DELETE(self) -> None:
        self._pass_on()

    def do_CONNECT(self) -> None:
        """A tunnel to host:port: the bytes both ways, unread, until either side ends."""
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.owner.record(Seen(self.command, self.path, headers))
        self.close_connection = True
        host, _, port = self.path.rpartition(":")
        try:
            upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=30)
        except (OSError, ValueError):
            self.send_error(502)
            return
        with upstream:
            self.send_response(200, "Connection established")
            self.end_headers()
            back = threading.Thread(target=_pump, args=(upstream.recv, self.connection))
            back.start()
            _pump(self.rfile.read1, upstream)  # what the client sent after CONNECT, on
            back.join(timeout=30)

    def _pass_on(self) -> None:
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.owner.record(Seen(self.command, self.path, headers))
        length = int(headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else None
        target = urlsplit(self.owner.target(self.path))
        path = target.path + (f"?{target.query}" if target.query else "")
        forward = {name: value for name, value in headers.items() if name not in _HOP}
        connection = http.client.HTTPConnection(target.netloc, timeout=30)
        try:
            connection.request(self.command, path, body=body, headers=forward)
            answer = connection.getresponse()
            data = answer.read()
        finally:
            connection.close()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in _HOP and name.lower() not in (
                "content-length",
                "date",
                "server",
            ):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _pump(read: Any, to: socket.socket) -> None:
    """Copy what ``read`` returns to ``to`` until the end, then end ``to``'s sending side."""
    with suppress(OSError):
        while data := read(65536):
            to.sendall(data)
    with suppress(OSError):
        to.shutdown(socket.SHUT_WR)
