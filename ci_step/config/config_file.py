"""Load the YAML config file into plain strings, the way every other source arrives.

Scalars are read as text (YAML's BaseLoader): ``download: false`` is the string
"false" and a revision such as ``0123456`` is not turned into an octal number. The
reading itself (``read_yaml``) is shared with the settings file.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ci_step.config.inputs import BY_NAME, FILE_KEYS
from ci_step.config.parsers import close_matches, escaped
from ci_step.domain.hosts import is_mendix_root

MAX_CONFIG_BYTES = 1 << 20


@dataclass
class FileValues:
    path: str
    values: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


class Unreadable(Exception):
    """The file cannot be read as YAML at all (the message says why)."""


class _UniqueKeyLoader(yaml.BaseLoader):
    """BaseLoader that remembers keys written twice in one mapping (YAML keeps the last)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[str, int]] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[str] = set()
        for key_node, _value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if isinstance(key, str):
                folded = key.lower()
                if folded in seen:
                    self.duplicates.append((key, key_node.start_mark.line + 1))
                seen.add(folded)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


def read_yaml(path: Path, where: str, max_bytes: int) -> tuple[object, list[tuple[str, int]]]:
    """The document, its scalars as text, and the keys written twice in it (key, line).

    ``where`` names the file in messages ("config file x.yml"). Raises Unreadable when
    there is no document: not a regular file, too big, missing, not UTF-8 text, not YAML,
    nested too deeply.
    """
    try:
        text = read_text(path, where, max_bytes).decode("utf-8")
    except UnicodeDecodeError:
        raise Unreadable(f"{where} cannot be read: it is not UTF-8 text") from None
    try:
        loader = _UniqueKeyLoader(text)  # refuses control characters at once
        try:
            document = loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise Unreadable(f"{where} is not valid YAML{at}") from None
    except RecursionError:
        raise Unreadable(f"{where} is nested too deeply") from None
    return document, loader.duplicates


def read_text(path: Path, where: str, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; Unreadable for anything else.

    A file of the repository may be a symlink to a device or a pipe: the file is opened
    without waiting for a writer (O_NONBLOCK), checked through that descriptor to be a
    regular file, and read at most one byte past the limit, so nothing blocks or fills memory.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise Unreadable(f"{where} does not exist") from None
    except OSError as exc:
        raise Unreadable(f"{where} cannot be read: {exc.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise Unreadable(
                f"{where} is not a regular file (a directory, a device or a pipe, or a "
                "symlink to one): only a regular file is read"
            )
        with os.fdopen(fd, "rb", closefd=False) as file:
            data = file.read(max_bytes + 1)
    except OSError as exc:
        raise Unreadable(f"{where} cannot be read: {exc.strerror}") from None
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise Unreadable(f"{where} is larger than {max_bytes} bytes: at most {max_bytes} are read")
    return data


def _followed(path: Path, workspace: Path, where: str) -> Path:
    """``path`` with its symlinks followed. A path in the workspace (a file of the
    repository) may be a symlink to another file there, but not to one outside it."""
    root = Path(os.path.realpath(workspace))
    named = Path(os.path.abspath(path))
    real = Path(os.path.realpath(path))
    inside = named.is_relative_to(root) or named.is_relative_to(os.path.abspath(workspace))
    if inside and not real.is_relative_to(root):
        raise Unreadable(
            f"{where} is a symlink to something outside the workspace: a file in the "
            "workspace is read only where it stays inside it"
        )
    return real


def not_single(value: object) -> str:
    """The problem with a list or mapping given where one value belongs."""
    return f"must be a single value, not {'a list' if isinstance(value, list) else 'a mapping'}"


def load(path_text: str, workspace: Path) -> FileValues:
    """The file's values and problems; ``workspace``: where a repository's files are."""
    loaded = FileValues(path=path_text)
    where = f"config file {path_text}"
    try:
        # A key written twice is not reported here: the last one counts, as YAML has it.
        document, _twice = read_yaml(
            _followed(Path(path_text), workspace, where), where, MAX_CONFIG_BYTES
        )
    except Unreadable as exc:
        loaded.problems.append(str(exc))
        return loaded
    if document is None or document == "":
        return loaded
    if not isinstance(document, dict):
        loaded.problems.append(
            f"config file {path_text} must hold a mapping of input names to values"
        )
        return loaded
    for key, value in document.items():
        _take(loaded, key, value)
    return loaded


def _take(loaded: FileValues, key: str, value: object) -> None:
    """One entry; ``key`` is text, as every mapping key BaseLoader builds."""
    where = f"in config file {loaded.path}"
    spec = BY_NAME.get(key)
    if spec is None:
        loaded.problems.append(
            f"unknown key '{escaped(key)}' {where}{close_matches(key, FILE_KEYS)}"
        )
        return
    if not spec.in_file:
        if spec.secret:
            loaded.problems.append(
                f"'{key}' {where}: secrets do not belong in files; pass it through the "
                f"environment ({spec.mendix_variable} from a masked CI variable) instead"
            )
        else:
            loaded.problems.append(f"'{key}' cannot be set {where}")
        return
    if not isinstance(value, str):
        loaded.problems.append(f"'{key}' {where} {not_single(value)}")
        return
    if spec.api_root and value != "" and not is_mendix_root(value):
        loaded.problems.append(
            f"'{key}' {where} is not an https URL of mendix.com or a host under it: the "
            "step sends the credentials there, so a file of the repository may name only "
            f"Mendix's hosts; set another {key} in the job itself ({spec.mendix_variable}, "
            f"{spec.flag}, or with: {key}: in GitHub Actions)"
        )
        return
    if value != "":
        loaded.values[key] = value
