"""An environment's settings (constants and scheduled events) and the changes a file asks for.

The Deploy API answers ``GET …/settings`` with the whole collection and takes the whole
collection back on ``POST`` (what it does with entries left out is undocumented), so the
answer is kept as it came and only the ``Value`` of named entries is replaced.

A constant's value as the environment holds it is never shown: nothing tells which
constants are secrets, and one set by hand in the Portal is one. A change shows the
name and the new value as the file wrote it (``${NAME}`` for a value read from the
environment); a scheduled event, never a secret, shows both states.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ci_step.errors import ApiError

ENABLED, DISABLED = "Enabled", "Disabled"
EVENT_STATES = (ENABLED, DISABLED)
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*")
VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # an environment variable ``${NAME}`` reads
_SECTIONS = {"constant": "Constants", "scheduled event": "ScheduledEvents"}


@dataclass(frozen=True)
class Value:
    """A value to set: written in the file, or read from the environment variable
    ``variable`` (``${NAME}``), then a secret shown only by the variable's name."""

    text: str = field(repr=False)
    variable: str = ""

    @property
    def secret(self) -> bool:
        return bool(self.variable)

    @property
    def written(self) -> str:
        """The value as the file wrote it."""
        return f"${{{self.variable}}}" if self.variable else self.text

    def __repr__(self) -> str:
        return f"Value({self.written!r})"


@dataclass(frozen=True)
class Allowed:
    """The environment variables a settings file may read: names, and prefixes (``APP_*``)."""

    names: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()

    def allows(self, variable: str) -> bool:
        return variable in self.names or variable.startswith(self.prefixes)


@dataclass(frozen=True)
class Settings:
    """What the file asks for: constants by name, scheduled events Enabled/Disabled."""

    path: str  # as the user gave it
    constants: Mapping[str, Value] = field(default_factory=dict)
    events: Mapping[str, str] = field(default_factory=dict)

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(v.text for v in self.constants.values() if v.secret)


@dataclass(frozen=True)
class Setting:
    """One constant or scheduled event as the environment holds it."""

    name: str
    value: str = field(repr=False)  # what the next start uses (a constant may be a secret)
    deployed_value: str = field(repr=False)  # what the running app uses
    data_type: str  # constants only: String, Integer, Boolean, ...


@dataclass(frozen=True)
class EnvironmentSettings:
    constants: tuple[Setting, ...]
    events: tuple[Setting, ...]
    document: Mapping[str, Any] = field(repr=False, compare=False)  # the answer, as it came

    def constant(self, name: str) -> Setting | None:
        return next((s for s in self.constants if s.name == name), None)

    def event(self, name: str) -> Setting | None:
        return next((s for s in self.events if s.name == name), None)

    def body(self, constants: Mapping[str, str], events: Mapping[str, str]) -> dict[str, Any]:
        """The whole collection to POST back, with these names' ``Value`` replaced."""
        document = copy.deepcopy(dict(self.document))
        for key, values in (("Constants", constants), ("ScheduledEvents", events)):
            for entry in document.get(key) or []:
                if isinstance(entry, dict) and entry.get("Name") in values:
                    entry["Value"] = values[entry["Name"]]
        return document


@dataclass(frozen=True)
class Change:
    kind: str  # "constant" or "scheduled event"
    name: str
    old: str = field(repr=False)  # kept to put it back, never shown (may be a secret)
    new: Value

    def describe(self) -> str:
        """``constant M.N: set to 50``, ``constant M.N: set from ${NAME}``,
        ``scheduled event M.E: Disabled → Enabled``."""
        if self.kind == "scheduled event":
            return f"{self.kind} {self.name}: {self.old} → {self.new.text}"
        if self.new.secret:
            return f"{self.kind} {self.name}: set from {self.new.written}"
        return f"{self.kind} {self.name}: set to {self.new.text or 'an empty value'}"


@dataclass(frozen=True)
class ChangeSet:
    changes: tuple[Change, ...]
    missing: tuple[str, ...]  # "constant Module.Name": names the environment's model lacks

    def body(self, current: EnvironmentSettings) -> dict[str, Any]:
        constants = {c.name: c.new.text for c in self.changes if c.kind == "constant"}
        events = {c.name: c.new.text for c in self.changes if c.kind == "scheduled event"}
        return current.body(constants, events)


def plan(
    current: EnvironmentSettings, constants: Mapping[str, Value], events: Mapping[str, str]
) -> ChangeSet:
    """What must change for the environment to hold the wanted values."""
    changes: list[Change] = []
    missing: list[str] = []
    wanted: list[tuple[str, str, Value, Setting | None]] = [
        ("constant", name, value, current.constant(name)) for name, value in constants.items()
    ]
    wanted += [
        ("scheduled event", name, Value(state), current.event(name))
        for name, state in events.items()
    ]
    for kind, name, value, have in wanted:
        if have is None:
            missing.append(f"{kind} {name}")
        elif not _same(kind, have.value, value.text):
            changes.append(Change(kind, name, have.value, value))
    return ChangeSet(tuple(changes), tuple(missing))


def _same(kind: str, have: str, want: str) -> bool:
    return have.lower() == want.lower() if kind == "scheduled event" else have == want


def parse_settings(data: object, mode: str) -> EnvironmentSettings:
    """The answer to ``GET …/environments/{Mode}/settings``."""
    if not isinstance(data, dict):
        raise ApiError(f"The Deploy API answered the settings of {mode} with something else.")
    sections: dict[str, tuple[Setting, ...]] = {}
    for kind, key in _SECTIONS.items():
        entries = data.get(key)
        if entries is None:
            entries = []
        if not isinstance(entries, list):
            raise ApiError(f"The Deploy API answered the settings of {mode} without a {key} list.")
        sections[key] = tuple(_setting(entry, kind, mode) for entry in entries)
    return EnvironmentSettings(sections["Constants"], sections["ScheduledEvents"], data)


def _setting(entry: object, kind: str, mode: str) -> Setting:
    name = entry.get("Name") if isinstance(entry, dict) else None
    if not isinstance(entry, dict) or not isinstance(name, str) or not NAME.fullmatch(name):
        raise ApiError(f"The Deploy API answered a {kind} of {mode} without a valid Name.")
    return Setting(
        name=name,
        value=_text(entry.get("Value")),
        deployed_value=_text(entry.get("DeployedValue")),
        data_type=_text(entry.get("DataType")),
    )


def _text(value: object) -> str:
    """A value as text: the API gives strings; a number or Boolean is tolerated."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value if isinstance(value, str) else ""
