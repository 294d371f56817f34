"""The public contract stays in one piece: action.yml, the README and the code agree."""

from __future__ import annotations

from pathlib import Path

import yaml

from ci_step.config.inputs import INPUTS
from ci_step.report.result import OUTPUT_NAMES

ROOT = Path(__file__).resolve().parent.parent


def action() -> dict[str, object]:
    document: dict[str, object] = yaml.safe_load((ROOT / "action.yml").read_text("utf-8"))
    return document


def test_action_declares_every_input_without_defaults() -> None:
    inputs = action()["inputs"]
    assert isinstance(inputs, dict)
    assert list(inputs) == [spec.name for spec in INPUTS]
    for name, spec in inputs.items():
        assert "default" not in spec, f"{name}: a default would hide the config file's value"
        assert spec["description"]


def test_action_declares_every_output() -> None:
    outputs = action()["outputs"]
    assert isinstance(outputs, dict)
    assert list(outputs) == list(OUTPUT_NAMES)


def test_action_runs_the_dockerfile() -> None:
    assert action()["runs"] == {"using": "docker", "image": "Dockerfile"}


def test_readme_documents_every_input_and_output() -> None:
    """In the README or a page of the docs (the manual is moving there)."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    manual = "\n".join(page.read_text("utf-8") for page in pages)
    for spec in INPUTS:
        assert f"| `{spec.name}` |" in manual, spec.name
    for name in OUTPUT_NAMES:
        assert f"`{name}`" in manual, name
