"""Which hosts are whose: loopback (the only hosts spoken to in plain http: the simulator,
a local proxy) and Mendix's own (the only API roots a file of the repository may name)."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}
_HOST_NAME = re.compile(r"[a-z0-9.-]+")


def is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_mendix_root(url: str) -> bool:
    """``url`` is https to mendix.com or a host under it (ASCII only: no lookalike letters)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        _ = parts.port
    except ValueError:
        return False
    if parts.scheme != "https" or parts.username is not None or not _HOST_NAME.fullmatch(host):
        return False
    return host == "mendix.com" or host.endswith(".mendix.com")
