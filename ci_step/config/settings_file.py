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
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from ci_step.config.config_file import Unreadable, not_single, read_yaml
from ci_step.config.parsers import close_matches, printable
from ci_step.domain.settings import EVENT_STATES, NAME, Settings, Value
from ci_step.secrets import REGISTRY

MAX_SETTINGS_BYTES = 1 << 20
MAX_VALUE_CHARS = 65536
SECTIONS = ("constants", "scheduled-events")
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tabs and line breaks may stay


def load(path: Path, shown: str, environ: Mapping[str, str]) -> tuple[Settings | None, list[str]]:
    """The file's settings and every problem found (then no settings).

    ``shown``: the path as the user wrote it, for messages; ``environ``: where ``${NAME}``
    is read. Each secret read is registered for redaction at once.
    """
    where = f"settings file {shown}"
    try:
        document, twice = read_yaml(path, where, MAX_SETTINGS_BYTES)
    except Unreadable as exc:
        return None, [str(exc)]
    reader = _Reader(where, environ)
    reader.problems.extend(
        f"'{printable(key)}' in {where} is written twice (again at line {line}); keep one"
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
    def __init__(self, where: str, environ: Mapping[str, str]) -> None:
        self.where = where
        self.environ = environ
        self.constants: dict[str, Value] = {}
        self.events: dict[str, str] = {}
        self.problems: list[str] = []

    def section(self, key: str, value: object) -> None:
        """One top-level entry; keys are text, as every mapping key BaseLoader builds."""
        if key not in SECTIONS:
            self.problems.append(
                f"unknown key '{printable(key)}' in {self.where}{close_matches(key, SECTIONS)}"
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
        where = f"'{printable(name)}' under {section}: in {self.where}"
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
            secret = self.environ.get(variable, "")
            if not secret:
                self.problems.append(
                    f"{where} reads the environment variable {variable}, which is "
                    f"{'empty' if variable in self.environ else 'not set'}: set it (from a "
                    "masked CI variable)"
                )
                return None
            REGISTRY.add(secret)
            return Value(secret, secret=True)
        # Never echo the value: a secret may have been written here by mistake.
        if "${" in text:
            self.problems.append(
                f"{where} holds '${{' but is not exactly ${{NAME}}: a value read from the "
                "environment is written whole, for example ${PAYMENT_API_KEY}"
            )
        elif _CONTROL.search(text):
            self.problems.append(f"{where} holds control characters")
        elif len(text) > MAX_VALUE_CHARS:
            self.problems.append(f"{where} is longer than {MAX_VALUE_CHARS} characters")
        else:
            return Value(text)
        return None
