"""An environment's settings (Deploy API v1): the deployed model's constants and scheduled events.

``GET …/environments/{Mode}/settings`` answers ``{"Constants": [{"Name", "DataType",
"Value", "DeployedValue"}], "CustomSettings": [], "ScheduledEvents": [{"Name", "Value",
"DeployedValue"}]}``; values are strings, events ``Enabled``/``Disabled``. ``POST`` of the
collection changes the ``Value``s it names (entries left out stay as they are: the API
leaves that undocumented); every entry is checked before anything changes. ``Value`` is
what the next start uses; ``DeployedValue`` is what the running app got at its last start.
A constant with no value is ``null`` in both (*unverified*: the notes show only strings).
A transport brings the new model's constants and events, keeping the values of those that
stay.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ci_step.simulator.packages import Constant
from ci_step.simulator.reply import Reply, error

EVENT_VALUES = ("Enabled", "Disabled")
_BAD_BODY = (
    "Constants, CustomSettings and ScheduledEvents must be lists of objects with a Name "
    "and a string Value."
)


@dataclass
class Setting:
    value: str | None  # what the next start uses; None: no value
    deployed: str | None  # what the running app got at its last start
    data_type: str = ""  # constants only


def of_model(
    constants: Mapping[str, Constant], events: Mapping[str, str]
) -> tuple[dict[str, Setting], dict[str, Setting]]:
    """The settings of an environment that runs this model with its defaults."""
    return (
        {name: Setting(c.default, c.default, c.data_type) for name, c in constants.items()},
        {name: Setting(value, value) for name, value in events.items()},
    )


def carry(old: Mapping[str, Setting], constants: Mapping[str, Constant]) -> dict[str, Setting]:
    """The constants after a transport of a model with ``constants``: values that stay kept."""
    carried = {}
    for name, constant in constants.items():
        before = old.get(name)
        value = before.value if before is not None else constant.default
        deployed = before.deployed if before is not None else None
        carried[name] = Setting(value, deployed, constant.data_type)
    return carried


def carry_events(old: Mapping[str, Setting], events: Mapping[str, str]) -> dict[str, Setting]:
    carried = {}
    for name, default in events.items():
        before = old.get(name)
        carried[name] = before if before is not None else Setting(default, None)
    return carried


def deploy(*groups: Mapping[str, Setting]) -> None:
    """A start took the values: they are the deployed ones now."""
    for group in groups:
        for setting in group.values():
            setting.deployed = setting.value


def missing(constants: Mapping[str, Setting]) -> list[str]:
    return [name for name, setting in constants.items() if setting.value is None]


def describe(constants: Mapping[str, Setting], events: Mapping[str, Setting]) -> dict[str, Any]:
    return {
        "Constants": [
            {"Name": name, "DataType": s.data_type, "Value": s.value, "DeployedValue": s.deployed}
            for name, s in constants.items()
        ],
        "CustomSettings": [],
        "ScheduledEvents": [
            {"Name": name, "Value": s.value, "DeployedValue": s.deployed}
            for name, s in events.items()
        ],
    }


def change(constants: dict[str, Setting], events: dict[str, Setting], data: object) -> Reply:
    """``POST …/settings``: check every entry, then change the values.

    *Unverified*: a malformed body answered 400 ``INVALID_PARAMETERS``, and a successful
    change answered with the settings as they are now (the notes give neither)."""
    if not isinstance(data, dict):
        return error(400, "INVALID_PARAMETERS", _BAD_BODY)
    new_constants = _entries(data, "Constants")
    new_events = _entries(data, "ScheduledEvents")
    custom = data.get("CustomSettings") or []
    if new_constants is None or new_events is None or not isinstance(custom, list):
        return error(400, "INVALID_PARAMETERS", _BAD_BODY)
    refused = _refusal(constants, events, new_constants, new_events, custom)
    if refused is not None:
        return refused
    for name, value in new_constants:
        constants[name].value = value
    for name, value in new_events:
        events[name].value = value
    return Reply(200, describe(constants, events))


def _refusal(
    constants: Mapping[str, Setting],
    events: Mapping[str, Setting],
    new_constants: list[tuple[str, str | None]],
    new_events: list[tuple[str, str | None]],
    custom: list[Any],
) -> Reply | None:
    if custom:
        return error(
            400, "CUSTOM_SETTING_NOT_SUPPORTED", "Custom settings cannot be changed this way."
        )
    for name, _ in new_constants:
        if name not in constants:
            return error(400, "CONSTANT_NOT_FOUND", f"Constant '{name}' not found.")
    for name, value in new_events:
        if name not in events:
            return error(400, "SCHEDULED_EVENT_NOT_FOUND", f"Scheduled event '{name}' not found.")
        if value not in EVENT_VALUES:
            return error(
                500,
                "INVALID_SCHEDULED_EVENT_PARAMETER",
                f"Invalid value for scheduled event '{name}': use Enabled or Disabled.",
            )
    return None


def _entries(data: dict[str, Any], key: str) -> list[tuple[str, str | None]] | None:
    """(Name, Value) of each entry of ``data[key]`` (absent: none); None if malformed."""
    items = data.get(key) or []
    if not isinstance(items, list):
        return None
    entries = []
    for item in items:
        if not isinstance(item, dict):
            return None
        name, value = item.get("Name"), item.get("Value")
        if not isinstance(name, str) or not (value is None or isinstance(value, str)):
            return None
        entries.append((name, value))
    return entries
