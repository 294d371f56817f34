"""Hosts and URLs the step may speak to or hand on: rules with no I/O.

Plain http is spoken only to loopback (the simulator, a local proxy), and to a storage
host only when the API root is such a one too; a URL from an answer becomes an output only
when it is a plain https URL; Mendix's own hosts are the only API roots a file of the
repository may name.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}
_HOST_NAME = re.compile(r"[a-z0-9.-]+")
# https://host[:port][/path]: letters, digits and ``. - _ / %`` only, so that no shell that
# sources an output file (GitLab's dotenv) finds anything to expand, run or split at.
_PLAIN_HTTPS = re.compile(r"https://[A-Za-z0-9.-]{1,253}(?::[0-9]{1,5})?(?:/[A-Za-z0-9._/%-]*)?")


def is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_https_or_loopback(scheme: str, host: str) -> bool:
    """The one rule for where the step speaks: https to any host, plain http only to a
    loopback address."""
    if not host:
        return False
    return scheme == "https" or (scheme == "http" and is_loopback(host))


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


def is_loopback_http(url: str) -> bool:
    """A plain http URL on a loopback host: an API root that is the simulator (or another
    local stand-in), the only one whose storage host may be spoken to in plain http."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return False
    return parts.scheme == "http" and is_loopback(host)


def is_plain_https_url(url: str) -> bool:
    """``https://`` and a host name, then at most a port and a path: no credentials, query,
    fragment, white space, quotes, ``$`` or backticks, nothing but ASCII."""
    if len(url) > 2048 or not _PLAIN_HTTPS.fullmatch(url):
        return False
    host = urlsplit(url).hostname or ""
    return bool(host.strip(".-"))
