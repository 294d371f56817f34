"""requirements.lock: the image's runtime dependencies, each pinned with the hashes of its
files (pip-compile --generate-hashes), exactly the closure of pyproject.toml's
dependencies, each within pyproject's range; the Dockerfile and .ci/run install it with
--require-hashes."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import ROOT

LOCK = ROOT / "requirements.lock"
PIN = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\]+)")
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")


def locked() -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes), from the lock's requirement entries."""
    entries: dict[str, tuple[str, list[str]]] = {}
    logical = re.sub(r"\\\n", " ", LOCK.read_text("utf-8"))
    for line in logical.splitlines():
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        first, *options = text.split()
        match = PIN.fullmatch(first)
        assert match, f"not a pinned requirement: {text}"
        assert options, f"{first}: no hashes"
        for option in options:
            assert HASH.fullmatch(option), f"{first}: {option}"
        entries[canonicalize_name(match.group(1))] = (match.group(2), options)
    return entries


def declared() -> list[Requirement]:
    with (ROOT / "pyproject.toml").open("rb") as project:
        return [Requirement(text) for text in tomllib.load(project)["project"]["dependencies"]]


def closure(requirements: list[Requirement]) -> set[str]:
    """The names these requirements need on this platform, their own needs included (from
    the installed distributions' metadata)."""
    seen: set[str] = set()
    todo = list(requirements)
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        for text in metadata.requires(requirement.name) or []:
            needed = Requirement(text)
            if needed.marker is None or needed.marker.evaluate():
                todo.append(needed)
    return seen


def test_every_locked_requirement_is_pinned_with_hashes() -> None:
    entries = locked()
    assert entries
    for name, (_version, hashes) in entries.items():
        assert len(hashes) >= 1, name


def test_lock_is_exactly_what_pyproject_needs_within_its_ranges() -> None:
    entries = locked()
    assert set(entries) == closure(declared())
    for requirement in declared():
        version, _ = entries[canonicalize_name(requirement.name)]
        assert requirement.specifier.contains(version), f"{requirement}: locked {version}"


def test_lock_names_no_index_or_local_wheels() -> None:
    """What pip-compile copies from the machine's pip settings stays out of the lock."""
    for line in LOCK.read_text("utf-8").splitlines():
        assert not line.startswith(("--find-links", "-f ", "--index-url", "-i ", "--extra")), line


def test_the_image_and_ci_install_the_lock_with_hashes() -> None:
    dockerfile = " ".join((ROOT / "Dockerfile").read_text("utf-8").replace("\\\n", " ").split())
    assert (
        "--require-hashes --no-deps --only-binary=:all: -r /tmp/mendix-build/requirements.lock"
        in (dockerfile)
    )
    ci = (ROOT / ".ci" / "run").read_text("utf-8")
    assert "pip install --quiet --require-hashes --no-deps -r requirements.lock" in ci
