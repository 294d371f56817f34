"""Which revision a package was built from, as far as its own texts tell.

Two texts may say it:
- the ``Description`` the step wrote when it started the build: the description, then
  `` [revision <rev>]`` (``with_revision``), read back by ``described_revision``;
- the ``Name`` the platform gives it. *Unverified*: the reference does not give the Name's
  format. The platform is said to add the revision as a fourth part of the package's file
  name (``Main line-2.5.4.63.mda``), so a Name that ends in ``-<version>.<revision>`` is
  read that way; any other Name says nothing, and is never an error.
"""

from __future__ import annotations

import re

from ci_step.domain.versions import is_revision, release_of, same_revision

_MARK = re.compile(r"\[revision ([0-9A-Za-z]{1,40})\]\s*\Z")
_NAME = re.compile(
    r"(?:\A|-)([0-9]{1,9}\.[0-9]{1,9}\.[0-9]{1,9})\.([0-9A-Za-z]{1,40})(?:\.mda)?\s*\Z",
    re.IGNORECASE,
)


def with_revision(description: str, revision: str) -> str:
    """The Description the step sends: ``description`` and the revision it builds."""
    mark = f"[revision {revision}]"
    return f"{description} {mark}" if description else mark


def described_revision(description: str) -> str | None:
    """The revision a Description the step wrote names (``with_revision``); None: none."""
    match = _MARK.search(description)
    return match.group(1) if match and is_revision(match.group(1)) else None


def named_revision(name: str, version: str) -> str | None:
    """The revision a package Name ``<branch line>-<version>.<revision>`` carries (*unverified*
    format, see above); None for any other Name or one with another version."""
    match = _NAME.search(name)
    if match is None or not is_revision(match.group(2)):
        return None
    release = release_of(version)
    if release is not None and match.group(1) != release:
        return None
    return match.group(2)


def revisions_in(name: str, description: str, version: str) -> tuple[str, ...]:
    """Every revision a package's Name and Description say it was built from (may be none)."""
    found = (named_revision(name, version), described_revision(description))
    return tuple(revision for revision in found if revision is not None)


def built_from(name: str, description: str, version: str) -> str:
    """The revision a package was built from: the fullest its texts give when they agree;
    '' when none gives one or they disagree."""
    found = revisions_in(name, description, version)
    if not found or not all(same_revision(found[0], other) for other in found):
        return ""
    return max(found, key=len)
