"""Load the YAML config file into plain strings, the way every other source arrives.

Scalars are read as text (YAML's BaseLoader): ``download: false`` is the string
"false" and a revision such as ``0123456`` is not turned into an octal number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ci_step.config.inputs import BY_NAME, FILE_KEYS
from ci_step.config.parsers import close_matches, printable

MAX_CONFIG_BYTES = 1 << 20


@dataclass
class FileValues:
    path: str
    values: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def load(path_text: str) -> FileValues:
    loaded = FileValues(path=path_text)
    path = Path(path_text)
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            loaded.problems.append(
                f"config file {path_text} is {size} bytes; at most {MAX_CONFIG_BYTES} are read"
            )
            return loaded
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        loaded.problems.append(f"config file {path_text} does not exist")
        return loaded
    except (OSError, UnicodeDecodeError) as exc:
        loaded.problems.append(f"config file {path_text} cannot be read: {exc}")
        return loaded
    try:
        document = yaml.load(text, Loader=yaml.BaseLoader)  # noqa: S506 - BaseLoader builds no objects
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}" if where is not None else ""
        loaded.problems.append(f"config file {path_text} is not valid YAML{at}")
        return loaded
    except RecursionError:
        loaded.problems.append(f"config file {path_text} is nested too deeply")
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


def _take(loaded: FileValues, key: object, value: object) -> None:
    where = f"in config file {loaded.path}"
    if not isinstance(key, str):
        loaded.problems.append(f"key {key!r} {where} is not an input name")
        return
    spec = BY_NAME.get(key)
    if spec is None:
        loaded.problems.append(
            f"unknown key '{printable(key)}' {where}{close_matches(key, FILE_KEYS)}"
        )
        return
    if not spec.in_file:
        if spec.secret:
            loaded.problems.append(
                f"'{key}' {where}: secrets do not belong in files; pass it through the "
                f"environment (MENDIX_API_KEY from a masked CI variable) instead"
            )
        else:
            loaded.problems.append(f"'{key}' cannot be set {where}")
        return
    if not isinstance(value, str):
        kind = "a list" if isinstance(value, list) else "a mapping"
        loaded.problems.append(f"'{key}' {where} must be a single value, not {kind}")
        return
    if value != "":
        loaded.values[key] = value
