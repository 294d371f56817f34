"""Report what the container smoke test measured, in pytest's closing summary."""

from __future__ import annotations

from typing import Any

REPORT: list[str] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if REPORT:
        terminalreporter.section("container image")
        for line in REPORT:
            terminalreporter.write_line(line)
