"""One deadline for every byte of an HTTP answer, not only for each socket read.

requests and urllib3 apply the read timeout to each socket read, so an answer whose status
line, headers or body trickle in a byte at a time never trips it, however long the whole
answer takes. The step's deadline must bound the whole exchange instead.

The mechanism, shared by the API transport and the storage download:

- ``guard(session)`` mounts adapters whose connections enlist themselves, on connect and on
  each request, with the watch that is active in the calling context.
- ``within(deadline, doing)`` is that watch: a timer set to the deadline's remaining
  seconds, around one exchange (a request, its answer's headers and body, redirects
  included). When the timer fires, it shuts down the sockets of the enlisted connections.
  The blocked read returns at once (end of stream), urllib3 raises its usual connection
  error, and the watch turns whatever leaves the block into DeadlineExceeded.

A socket shutdown from the timer's thread is safe where an exception raised into the main
thread (an alarm signal) is not: it interrupts only the system call, never Python code
halfway through a ``finally`` or a connection pool's bookkeeping. The timer counts real
seconds from the deadline's remaining time when the exchange starts. SOCKS proxies use
connection classes of their own and are not watched; their reads keep the per-read timeout.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.poolmanager import PoolManager

from ci_step.clock import Deadline


class _Watch:
    """The connections one exchange used, shut down together when its time is up."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connections: list[HTTPConnection] = []
        self._closed = False
        self.fired = False

    def enlist(self, connection: HTTPConnection) -> None:
        with self._lock:
            if not self._closed and connection not in self._connections:
                self._connections.append(connection)

    def fire(self) -> None:
        with self._lock:
            if self._closed:
                return
            self.fired = True
            for connection in self._connections:
                _shut(connection.sock)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._connections.clear()


def _shut(sock: socket.socket | None) -> None:
    if sock is None:
        return
    # The plain socket's shutdown, also for TLS sockets: SSLSocket.shutdown would first
    # drop its TLS state, which the reading thread is still using.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


_ACTIVE: ContextVar[_Watch | None] = ContextVar("mendix_build_watch", default=None)


def _enlist(connection: HTTPConnection) -> None:
    watch = _ACTIVE.get()
    if watch is not None:
        watch.enlist(connection)


class SlowAnswer(Exception):
    """The whole answer took longer than the exchange's own limit (the deadline still held)."""

    def __init__(self, limit: float) -> None:
        super().__init__(f"no whole answer within {limit:g}s")
        self.limit = limit


@contextlib.contextmanager
def within(deadline: Deadline, doing: str, limit: float | None = None) -> Iterator[None]:
    """Run one HTTP exchange so that it ends, whole, by the deadline (and within ``limit``
    seconds, when given and sooner: an API answer has no reason to take minutes).

    DeadlineExceeded when the deadline has already passed, or when it passed during the
    exchange, whatever the library made of the cut answer (an error, or headers that
    simply ended: a cut in the headers reads as their end); SlowAnswer when ``limit`` did.
    """
    left = deadline.check(doing)
    seconds = left if limit is None else min(left, limit)
    watch = _Watch()
    timer = threading.Timer(seconds, watch.fire)
    timer.daemon = True
    token = _ACTIVE.set(watch)
    timer.start()
    cut: Exception = deadline.passed(doing) if seconds >= left else SlowAnswer(seconds)
    try:
        yield
    except Exception:
        if watch.fired:
            raise cut from None
        raise
    finally:
        timer.cancel()
        watch.close()
        _ACTIVE.reset(token)
    if watch.fired:
        raise cut


class _Connection(HTTPConnection):
    def connect(self) -> None:
        _enlist(self)
        super().connect()

    def request(self, *args: Any, **kwargs: Any) -> None:
        _enlist(self)
        super().request(*args, **kwargs)


class _TlsConnection(_Connection, HTTPSConnection):
    """The same enlisting before HTTPSConnection's own connect and request."""


class _Pool(HTTPConnectionPool):
    ConnectionCls = _Connection


class _TlsPool(HTTPSConnectionPool):
    ConnectionCls = _TlsConnection


_POOLS = {"http": _Pool, "https": _TlsPool}


def _watched(manager: PoolManager) -> PoolManager:
    manager.pool_classes_by_scheme = _POOLS
    return manager


class GuardedAdapter(HTTPAdapter):
    """requests' adapter, with connections that the active watch can shut down."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        _watched(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> PoolManager:
        manager: PoolManager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if proxy.lower().startswith("socks"):
            return manager
        return _watched(manager)


def guard(session: requests.Session) -> requests.Session:
    """Mount guarded adapters on ``session`` (once) for http and https."""
    for prefix in ("https://", "http://"):
        if not isinstance(session.adapters.get(prefix), GuardedAdapter):
            session.mount(prefix, GuardedAdapter())
    return session
