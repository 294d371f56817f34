"""GitHub's workflow commands (``::name props::data``): how their data and properties are
escaped, so that the runner, which unescapes them, reads back exactly the text given."""

from __future__ import annotations


def escape_data(text: str) -> str:
    """The command's data: ``%``, ``\\r`` and ``\\n`` escaped."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A property's value: the data's escapes, and ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")
