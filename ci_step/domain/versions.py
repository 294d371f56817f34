"""Versions and revisions as the Build API knows them: rules with no I/O."""

from __future__ import annotations

import re

GIT_HASH = re.compile(r"[0-9a-fA-F]{7,40}")
SVN_REVISION = re.compile(r"[1-9][0-9]{0,9}")
VERSION = re.compile(r"(\d{1,9})\.(\d{1,9})\.(\d{1,9})")
PACKAGE_VERSION = re.compile(r"([0-9]{1,9}\.[0-9]{1,9}\.[0-9]{1,9})(?:\.[0-9]{1,9})?")
API_VERSION = re.compile(
    r"[0-9]{1,9}\.[0-9]{1,9}\.[0-9]{1,9}(?:\.(?:[0-9]{1,10}|[0-9a-fA-F]{7,40}))?"
)
AUTO_VERSIONS = ("auto", "auto-minor", "auto-major")
LATEST = "latest"


def is_revision(value: str) -> bool:
    """A Git commit hash (7 to 40 hex digits) or an SVN revision number."""
    return bool(SVN_REVISION.fullmatch(value) or GIT_HASH.fullmatch(value))


def parse_version(value: str) -> tuple[int, int, int] | None:
    """(major, minor, patch) of ``major.minor.patch``; None for anything else."""
    match = VERSION.fullmatch(value)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3))


def is_package_version(value: str) -> bool:
    """A package's Version as the APIs give it: major.minor.patch, perhaps with a fourth
    part, its revision (a number; a Git hash where an environment names its package)."""
    return API_VERSION.fullmatch(value) is not None


def release_of(version: str) -> str | None:
    """major.minor.patch of a package's Version (a fourth number dropped); None: not one."""
    match = PACKAGE_VERSION.fullmatch(version)
    return match.group(1) if match else None


def same_revision(one: str, other: str) -> bool:
    """Whether two revisions name the same commit: equal (any case), or one Git hash the
    start of the other (a short and a full hash). SVN numbers only ever equal: 12 is not
    123, and a longer text that could be an SVN number is never taken for a full hash."""
    one, other = one.casefold(), other.casefold()
    if one == other:
        return bool(one)  # no revision is the same as nothing
    short, full = sorted((one, other), key=len)
    return bool(
        GIT_HASH.fullmatch(short)
        and GIT_HASH.fullmatch(full)
        and not SVN_REVISION.fullmatch(full)
        and full.startswith(short)
    )
