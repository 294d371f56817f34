"""How the user sets an input where the step runs, for the messages that name one.

An input the user gave is named the way they gave it (``--timeout``, ``MENDIX_TIMEOUT``,
the config file's key); GitHub hands the action's inputs over as ``INPUT_TIMEOUT``, which
the user wrote as ``with: timeout:``. In Azure Pipelines the inputs are the step's
environment variables, and a secret reaches the step only through its ``env:``, so
``MENDIX_TIMEOUT`` is named as written there: ``env: MENDIX_TIMEOUT:``. An input not given
is named the way the CI sets inputs: ``with:`` in GitHub Actions, ``env:`` in Azure
Pipelines, variables in GitLab and Jenkins; locally, the way the user gave the others
(flags, else variables).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from ci_step.config.inputs import BY_NAME, InputSpec
from ci_step.errors import Speller
from ci_step.report.ci_env import CiEnv, Platform


class Given(Protocol):
    """An input as it arrived (validate.RawInput): its value and the name it came under."""

    @property
    def value(self) -> str | None: ...

    @property
    def label(self) -> str: ...


def _with(spec: InputSpec, value: str | None) -> str:
    return f"with: {spec.name}:" + ("" if value is None else f" {value}")


def _env(name: str, value: str | None) -> str:
    return f"env: {name}:" + ("" if value is None else f" {value}")


def _flag(spec: InputSpec, value: str | None) -> str:
    return spec.flag + ("" if value is None else f" {value}")


def _variable(name: str, value: str | None) -> str:
    return name + ("" if value is None else f"={value}")


def _as_given(spec: InputSpec, label: str, value: str | None, style: str) -> str:
    if label.startswith("--"):
        return _flag(spec, value)
    if label.startswith("INPUT_"):
        return _with(spec, value)
    if label.startswith("MENDIX_"):
        return _env(label, value) if style == "env" else _variable(label, value)
    if " (in " in label:  # a key of the config file
        return spec.name + ("" if value is None else f": {value}") + label[len(spec.name) :]
    return label  # a positional argument


def _given(raw: Mapping[str, Given]) -> dict[str, str]:
    """The label of each input the user gave (an input not given is labelled its name)."""
    return {
        name: item.label
        for name, item in raw.items()
        if item.value not in (None, "") and item.label != name
    }


def _local_style(given: Mapping[str, str]) -> str:
    labels = given.values()
    if any(label.startswith("--") for label in labels) or not labels:
        return "flag"
    return "variable" if any(label.startswith("MENDIX_") for label in labels) else "flag"


def speller(ci: CiEnv, raw: Mapping[str, Given]) -> Speller:
    """The speller for this run: its CI, and how the user gave each input."""
    given = _given(raw)
    style = {
        Platform.GITHUB: "with",
        Platform.GITLAB: "variable",
        Platform.JENKINS: "variable",
        Platform.AZURE: "env",
    }.get(ci.platform) or _local_style(given)

    def spell(name: str, value: str | None) -> str:
        spec = BY_NAME.get(name)
        if spec is None:
            return name if value is None else f"{name}: {value}"
        if name in given:
            return _as_given(spec, given[name], value, style)
        if style == "with":
            return _with(spec, value)
        if style == "env":
            return _env(spec.mendix_variable, value)
        if style == "variable":
            return _variable(spec.mendix_variable, value)
        return _flag(spec, value)

    return spell
