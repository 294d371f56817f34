"""The libraries the step imports, each with the lowest version it is tested with.

pyproject.toml declares the same floors (a test holds them equal to these, and to the
third-party imports of ``ci_step``); CI runs the tests a second time with exactly these
versions installed. An environment holding an older one (installed with ``--no-deps``,
or by a system package manager) is told so before any of them is imported.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib import metadata

from ci_step.errors import LibraryError, OldLibrary

# distribution name: the lowest version the whole test suite passes with, and why not lower
FLOORS = {
    "click": "8.1.4",  # click.echo without any stdout (started with >&-)
    "PyYAML": "6.0",  # the first with wheels for Python 3.11
    "requests": "2.31.0",  # 2.30.0 is the first for urllib3 2; 2.31.0 fixes CVE-2023-32681
    "structlog": "22.1.0",  # capture_logs sees the loggers bound before it
    "urllib3": "2.6.0",  # bounds what it decompresses (CVE-2025-66471, CVE-2025-66418)
}


def release(version: str) -> tuple[int, ...]:
    """The release numbers a version starts with, trailing zeros dropped: 2.2 == 2.2.0."""
    match = re.match(r"\d+(?:\.\d+)*", version)
    numbers = [int(part) for part in match.group().split(".")] if match else []
    while numbers and numbers[-1] == 0:
        numbers.pop()
    return tuple(numbers)


def old_libraries(version_of: Callable[[str], str] | None = None) -> list[OldLibrary]:
    """Each library that is missing (installed: None) or older than its floor;
    ``version_of``: the installed version of a distribution (importlib.metadata's)."""
    version_of = version_of or metadata.version
    found = []
    for name, floor in FLOORS.items():
        try:
            installed: str | None = version_of(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed is None or release(installed) < release(floor):
            found.append(OldLibrary(name, installed, floor))
    return found


def check(version_of: Callable[[str], str] | None = None) -> None:
    """LibraryError naming every library that is missing or too old."""
    found = old_libraries(version_of)
    if found:
        raise LibraryError(found)
