"""The settings file: constants and scheduled events to set on the environment.

```yaml
constants:
  MyModule.ApiUrl: https://api.example.com
  MyModule.ApiKey: ${PAYMENT_API_KEY}    # read from the environment: a secret
scheduled-events:
  MyModule.NightlyCleanup: Enabled       # or Disabled (any case)
```

Read as text (YAML's BaseLoader) and checked whole before any request: every problem
is reported at once, each naming the file and the key, never a value (it may be a
secret written where it should not be).

``${NAME}`` reads only the variables the settings-variables input allows, and never
the step's own secrets (by any of their variables' names, or by value) nor a CI's
tokens: the file comes from the repository, and an app constant is read by everyone
with access to the app in the Portal.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ci_step.config.config_file import Unreadable, not_single, read_yaml
from ci_step.config.inputs import INPUTS
from ci_step.config.parsers import close_matches, escaped
from ci_step.controls import CONTROL_IN_TEXT  # tabs and line breaks may stay
from ci_step.domain.app_settings import EVENT_STATES, NAME, VARIABLE, Allowed, Settings, Value
from ci_step.errors import input_name
from ci_step.report.ci_env import CI_TOKENS
from ci_step.secrets import REGISTRY

MAX_SETTINGS_BYTES = 1 << 20
MAX_VALUE_CHARS = 65536
SECTIONS = ("constants", "scheduled-events")
_REFERENCE = re.compile(r"\$\{(" + VARIABLE.pattern + r")\}")
# The step's own secrets by every variable that may hold them: input name by variable.
_OWN = {name.upper(): spec.name for spec in INPUTS if spec.secret for name in spec.env_names}


@dataclass(frozen=True)
class Variables:
    """What ``${NAME}`` may read: the job's variables (``environ``), those ``allowed``
    names, never one holding a secret of the step's own (``own``: value to input name)."""

    environ: Mapping[str, str]
    allowed: Allowed = field(default_factory=Allowed)
    own: Mapping[str, str] = field(default_factory=dict)


def load(path: Path, shown: str, variables: Variables) -> tuple[Settings | None, list[str]]:
    """The file's settings and every problem found (then no settings).

    ``shown``: the path as the user wrote it, for messages; ``variables``: what ``${NAME}``
    may read. Each secret read is registered for redaction at once.
    """
    where = f"settings file {shown}"
    try:
        document, twice = read_yaml(path, where, MAX_SETTINGS_BYTES)
    except Unreadable as exc:
        return None, [str(exc)]
    reader = _Reader(where, variables)
    reader.problems.extend(
        f"'{escaped(key)}' in {where} is written twice (again at line {line}); keep one"
        for key, line in twice
    )
    if isinstance(document, dict):
        for key, value in document.items():
            reader.section(key, value)
    elif document not in (None, ""):  # an empty file asks for nothing
        reader.problems.append(f"{where} must hold a mapping with constants: and scheduled-events:")
    if reader.problems:
        return None, reader.problems
    return Settings(shown, reader.constants, reader.events), []


class _Reader:
    def __init__(self, where: str, variables: Variables) -> None:
        self.where = where
        self.variables = variables
        self.constants: dict[str, Value] = {}
        self.events: dict[str, str] = {}
        self.problems: list[str] = []

    def section(self, key: str, value: object) -> None:
        """One top-level entry; keys are text, as every mapping key BaseLoader builds."""
        if key not in SECTIONS:
            self.problems.append(
                f"unknown key '{escaped(key)}' in {self.where}{close_matches(key, SECTIONS)}"
            )
            return
        if value is None or value == "":
            return
        if not isinstance(value, dict):
            self.problems.append(
                f"'{key}' in {self.where} must be a mapping of Module.Name to a value"
            )
            return
        for name, item in value.items():
            self.entry(key, name, item)

    def entry(self, section: str, name: str, item: object) -> None:
        where = f"'{escaped(name)}' under {section}: in {self.where}"
        if not NAME.fullmatch(name):
            self.problems.append(f"{where} is not a name of the form Module.Name")
            return
        if not isinstance(item, str):
            self.problems.append(f"{where} {not_single(item)}")
            return
        if section == "constants":
            value = self.constant(item, where)
            if value is not None:
                self.constants[name] = value
            return
        state = item.strip().title()
        if state not in EVENT_STATES:
            self.problems.append(f"{where} must be Enabled or Disabled")
            return
        self.events[name] = state

    def constant(self, text: str, where: str) -> Value | None:
        reference = _REFERENCE.fullmatch(text)
        if reference is not None:
            variable = reference.group(1)
            refused = self.refused(variable)
            if refused:
                self.problems.append(
                    f"{where} reads the environment variable {variable}, {refused}"
                )
                return None
            secret = self.variables.environ[variable]
            REGISTRY.add(secret)
            return Value(secret, variable)
        # Never echo the value: a secret may have been written here by mistake.
        if "${" in text:
            self.problems.append(
                f"{where} holds '${{' but is not exactly ${{NAME}}: a value read from the "
                "environment is written whole, for example ${PAYMENT_API_KEY}"
            )
        elif CONTROL_IN_TEXT.search(text):
            self.problems.append(f"{where} holds control characters")
        elif len(text) > MAX_VALUE_CHARS:
            self.problems.append(f"{where} is longer than {MAX_VALUE_CHARS} characters")
        else:
            return Value(text)
        return None

    def refused(self, variable: str) -> str:
        """Why ``${variable}`` may not be read ("" when it may)."""
        own = _OWN.get(variable.upper())
        if own is not None:
            return (
                f"which holds the step's own {own}: a settings file never reads the step's secrets"
            )
        if variable.upper() in CI_TOKENS:
            return "a token the CI gives the job: a settings file never reads it"
        if not self.variables.allowed.allows(variable):
            return (
                f"which {input_name('settings-variables')} does not allow: add {variable} "
                "(or a prefix such as APP_*) to it"
            )
        environ = self.variables.environ
        value = environ.get(variable, "")
        if not value:
            state = "empty" if variable in environ else "not set"
            return f"which is {state}: set it (from a masked CI variable)"
        own = self.variables.own.get(value)
        if own is not None:
            return (
                f"which holds the same value as {input_name(own)}: a settings file never "
                "copies the step's secrets"
            )
        return ""
