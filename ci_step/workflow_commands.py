"""The commands a CI runner reads from the step's output, and how their texts are escaped so
that the runner, which unescapes them, reads back exactly the text given.

- GitHub's workflow commands (``::name props::data``).
- Azure Pipelines' logging commands (``##vso[area.event name=value;name=value]data``):
  the agent takes the first ``##vso[`` anywhere in a line, the command up to the first
  ``]`` after it, splits the properties at ``;`` and each at its first ``=``, then
  unescapes property values and the data alike.
"""

from __future__ import annotations


def escape_data(text: str) -> str:
    """The command's data: ``%``, ``\\r`` and ``\\n`` escaped."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A property's value: the data's escapes, and ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


AZURE_PREFIX = "##vso["
# What the agent unescapes, after ``%AZP25``: the characters that would end a property, a
# line or the command.
_AZURE_ESCAPES = ((";", "%3B"), ("\r", "%0D"), ("\n", "%0A"), ("]", "%5D"))
AZURE_PERCENT = "%AZP25"


def escape_azure(text: str, *, percents: bool = True) -> str:
    """A logging command's property value or data: ``%`` first (as ``%AZP25``), then ``;``,
    ``\\r``, ``\\n`` and ``]``.

    ``percents``: the agent decodes ``%AZP25`` (unless the job sets the variable
    ``DECODE_PERCENTS`` to anything but true); when it does not, ``%`` is left as it is and
    a text holding one of the escapes itself cannot be given (see ``azure_carries``)."""
    if percents:
        text = text.replace("%", AZURE_PERCENT)
    for char, escape in _AZURE_ESCAPES:
        text = text.replace(char, escape)
    return text


def azure_spaced(text: str) -> str:
    """``text`` with a space after each ``%`` that starts one of the escapes as written: a
    message that an agent not decoding ``%AZP25`` shows as written, but for those spaces."""
    for _, escape in _AZURE_ESCAPES:
        text = text.replace(escape, f"% {escape[1:]}")
    return text


def azure_carries(text: str, *, percents: bool = True) -> bool:
    """Does ``escape_azure(text)`` read back as ``text``? Always, when the agent decodes
    ``%AZP25``; otherwise only when no escape appears in the text as written."""
    return percents or not any(escape in text for _, escape in _AZURE_ESCAPES)
