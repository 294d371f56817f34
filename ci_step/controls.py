"""Control characters, in the sets the step tells apart: every check and every cleaning of
text names one of these."""

from __future__ import annotations

import re

# C0 controls and DEL: the ASCII control characters.
CONTROL_CODES: tuple[int, ...] = (*range(0x20), 0x7F)


def codes_except(keep: str) -> tuple[int, ...]:
    """The ASCII control characters but those in ``keep``."""
    return tuple(code for code in CONTROL_CODES if chr(code) not in keep)


def _pattern(keep: str) -> re.Pattern[str]:
    return re.compile("[" + "".join(f"\\x{code:02x}" for code in codes_except(keep)) + "]")


# In a one-line value (an input, a URL, a path): none at all.
CONTROL = _pattern("")
# In text of lines (an output value, a line printed): all but tab and line feed.
CONTROL_IN_LINES = _pattern("\t\n")
# In text as a file holds it (a settings file's value): all but tab and line breaks.
CONTROL_IN_TEXT = _pattern("\t\n\r")
