"""The public contract stays in one piece: action.yml, the manual and the code agree.

The inputs: tests/test_docs.py."""

from __future__ import annotations

import re

import yaml

from ci_step.report.result import OUTPUT_NAMES
from tests.conftest import ROOT
from tests.test_docs import table_rows


def action() -> dict[str, object]:
    document: dict[str, object] = yaml.safe_load((ROOT / "action.yml").read_text("utf-8"))
    return document


def test_action_declares_every_output() -> None:
    outputs = action()["outputs"]
    assert isinstance(outputs, dict)
    assert list(outputs) == list(OUTPUT_NAMES)


def test_action_runs_the_dockerfile() -> None:
    assert action()["runs"] == {"using": "docker", "image": "Dockerfile"}


def test_docs_document_every_output() -> None:
    rows = table_rows((ROOT / "docs" / "outputs.md").read_text("utf-8"), "| output | meaning |")
    named = [name for row in rows for name in re.findall(r"`([a-z0-9-]+)`", row[0])]
    assert sorted(named) == sorted(OUTPUT_NAMES)
