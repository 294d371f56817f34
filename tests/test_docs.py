"""The manual stays true to the step: the inputs reference in docs/ and the inputs of
action.yml follow the one table of inputs (ci_step/config/inputs.py), the README's links
lead somewhere, its pipeline examples pass their CI's schema, and an error's "More:"
names a page and section that exist."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from ci_step import errors
from ci_step.config.inputs import INPUTS, InputSpec
from tests.conftest import ROOT, check_jsonschema

DOCS = ROOT / "docs"
INPUTS_PAGE = DOCS / "inputs.md"
INPUTS_TABLE_HEADER = "| input | meaning | default |"
# Inputs action.yml may declare that the step itself does not read (GitHub needs none today).
GITHUB_ONLY_INPUTS: frozenset[str] = frozenset()

FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
DOCS_POINTER = re.compile(r"\b(docs/[\w/-]+\.md)(?:#([\w-]+))?")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def action_inputs() -> dict[str, dict[str, object]]:
    document = yaml.safe_load((ROOT / "action.yml").read_text("utf-8"))
    inputs: dict[str, dict[str, object]] = document["inputs"]
    return inputs


def without_code_blocks(text: str) -> str:
    return FENCE.sub("", text)


def github_slug(heading: str) -> str:
    """The anchor GitHub (and MkDocs, for these headings) gives a heading."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {github_slug(h) for h in HEADING.findall(without_code_blocks(page.read_text("utf-8")))}


def table_rows(text: str, header: str) -> list[list[str]]:
    """The cells of each row of the Markdown table that starts with ``header``."""
    lines = text[text.index(header) :].splitlines()
    rows = []
    for line in lines[2:]:  # the header and the |---| line
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split(" | ")])
    return rows


def input_rows() -> dict[str, list[list[str]]]:
    text = INPUTS_PAGE.read_text("utf-8")
    assert text.count(INPUTS_TABLE_HEADER) == 1, "docs/inputs.md has one table of all inputs"
    by_name: dict[str, list[list[str]]] = {}
    for row in table_rows(text, INPUTS_TABLE_HEADER):
        name = re.fullmatch(r"`([a-z0-9-]+)`", row[0])
        assert name, f"the first cell names one input in backticks: {row[0]!r}"
        by_name.setdefault(name.group(1), []).append(row)
    return by_name


# ---------------------------------------------------------------------------------------
# action.yml against INPUTS


def test_action_declares_each_input_of_the_table_in_its_order() -> None:
    declared = [name for name in action_inputs() if name not in GITHUB_ONLY_INPUTS]
    assert declared == [spec.name for spec in INPUTS]


def action_required(spec: InputSpec) -> bool:
    """GitHub can demand only what no config file can give."""
    return spec.required and not spec.in_file


@pytest.mark.parametrize("spec", INPUTS, ids=lambda spec: spec.name)
def test_action_input_states_what_the_table_says(spec: InputSpec) -> None:
    declared = action_inputs()[spec.name]
    assert declared.get("required") is action_required(spec), "required"
    # A `default:` would reach the step as INPUT_* and hide the config file's value; the
    # description names the default the step applies.
    assert "default" not in declared, "a default would hide the config file's value"
    description = str(declared["description"])
    assert description
    if spec.default is not None:
        assert f"Default: {spec.default}" in description, description
    if spec.required and spec.in_file:
        assert "Required here or in the config file" in description, description


# ---------------------------------------------------------------------------------------
# docs/inputs.md against INPUTS


def test_docs_inputs_table_has_one_row_per_input_and_no_other() -> None:
    rows = input_rows()
    counts = Counter({name: len(found) for name, found in rows.items()})
    assert sorted(counts.elements()) == sorted(spec.name for spec in INPUTS)


@pytest.mark.parametrize("spec", INPUTS, ids=lambda spec: spec.name)
def test_docs_input_row_states_default_and_whether_required(spec: InputSpec) -> None:
    ((_, meaning, default),) = input_rows()[spec.name]
    assert ("(required" in meaning) is spec.required, meaning
    if spec.default is not None:
        assert f"`{spec.default}`" in default, default
    if not spec.in_file and spec.name != "config":
        assert "environment or flag only" in meaning, meaning


def test_table_reader_sees_a_missing_and_a_doubled_row() -> None:
    text = f"{INPUTS_TABLE_HEADER}\n|---|---|---|\n| `a` | x | |\n| `a` | y | `1` |\n\nmore\n"
    assert table_rows(text, INPUTS_TABLE_HEADER) == [["`a`", "x", ""], ["`a`", "y", "`1`"]]


# ---------------------------------------------------------------------------------------
# Links from the pages GitHub shows (README, CONTRIBUTING) into the repository and docs/


def relative_links(page: Path) -> list[str]:
    return [
        target
        for target in LINK.findall(without_code_blocks(page.read_text("utf-8")))
        if not re.match(r"[a-z][a-z0-9+.-]*:", target)
    ]


@pytest.mark.parametrize("name", ["README.md", "CONTRIBUTING.md"])
def test_relative_links_lead_to_a_file_and_a_heading(name: str) -> None:
    page = ROOT / name
    links = relative_links(page)
    assert links
    for link in links:
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        assert not path.startswith("/"), f"{link}: a relative link works on GitHub"
        assert target.is_file(), f"{name}: {link}: no such file"
        if anchor:
            assert target.suffix == ".md", link
            assert anchor in anchors(target), f"{name}: {link}: no such heading"


def test_readme_links_into_every_docs_page() -> None:
    linked = {
        (ROOT / link.partition("#")[0]).resolve()
        for link in relative_links(ROOT / "README.md")
        if link.startswith("docs/")
    }
    pages = {page.resolve() for page in DOCS.rglob("*.md")}
    assert pages <= linked, sorted(str(p.relative_to(DOCS)) for p in pages - linked)


def test_slugs_follow_github() -> None:
    assert github_slug("Re-runs of a deploy") == "re-runs-of-a-deploy"
    assert github_slug("Inputs in with:") == "inputs-in-with"
    assert github_slug("What the step trusts") == "what-the-step-trusts"


def test_readme_stays_short() -> None:
    assert len((ROOT / "README.md").read_text("utf-8").splitlines()) <= 200


# ---------------------------------------------------------------------------------------
# The README's pipeline examples pass their CI's official schema


def readme_yaml_blocks() -> list[object]:
    text = (ROOT / "README.md").read_text("utf-8")
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)]


def check_schema(schema: str, document: object, tmp_path: Path) -> None:
    path = tmp_path / f"{schema}.yml"
    path.write_text(yaml.safe_dump(document), "utf-8")
    done = check_jsonschema(schema, path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_readme_github_steps_pass_the_workflow_schema(tmp_path: Path) -> None:
    (steps,) = [block for block in readme_yaml_blocks() if isinstance(block, list)]
    workflow = {"on": "push", "jobs": {"build": {"runs-on": "ubuntu-latest", "steps": steps}}}
    check_schema("vendor.github-workflows", workflow, tmp_path)
    names = {name for step in steps for name in step.get("with", {})}
    assert {"app-id", "username", "api-key", "revision", "version"} <= names


def test_readme_gitlab_job_passes_the_gitlab_schema(tmp_path: Path) -> None:
    (pipeline,) = [b for b in readme_yaml_blocks() if isinstance(b, dict) and "jobs" not in b]
    check_schema("vendor.gitlab-ci", pipeline, tmp_path)
    (job,) = pipeline.values()
    assert job["image"]["entrypoint"] == [""]
    assert job["artifacts"]["reports"]["dotenv"] == "mendix-build.env"


def test_readme_azure_job_passes_the_azure_pipelines_schema(tmp_path: Path) -> None:
    (pipeline,) = [b for b in readme_yaml_blocks() if isinstance(b, dict) and "jobs" in b]
    check_schema("vendor.azure-pipelines", pipeline, tmp_path)
    (job,) = pipeline["jobs"]
    assert job["container"] == "registry.example.com/tools/mendix-build:1"
    (step, publish) = job["steps"]
    assert step["script"] == "mendix-build"
    assert step["env"]["MENDIX_API_KEY"] == "$(MENDIX_API_KEY)"  # a secret: only via env:
    assert publish["publish"].endswith(f"$({step['name']}.artifact-path)")


def test_azure_page_yaml_passes_the_azure_pipelines_schema(tmp_path: Path) -> None:
    """The minimal job, and the unit-test steps as the steps of a pipeline."""
    text = (DOCS / "ci" / "azure.md").read_text("utf-8")
    job, steps = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)]
    check_schema("vendor.azure-pipelines", job, tmp_path)
    check_schema("vendor.azure-pipelines", {"steps": steps}, tmp_path)
    (step, publish) = steps
    assert step["env"]["MENDIX_UNIT_TESTS_PASSWORD"] == "$(MENDIX_UNIT_TESTS_PASSWORD)"
    assert publish["condition"] == "succeededOrFailed()"


# ---------------------------------------------------------------------------------------
# Where an error sends the reader


def step_errors() -> list[type[errors.StepError]]:
    found: list[type[errors.StepError]] = []
    todo: list[type[errors.StepError]] = [errors.StepError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_errors_point_to_pages_and_sections_that_exist() -> None:
    pointers = {cls.default_docs for cls in step_errors()}
    assert any(DOCS_POINTER.search(pointer) for pointer in pointers)
    for pointer in pointers:
        for page, anchor in DOCS_POINTER.findall(pointer):
            assert (ROOT / page).is_file(), pointer
            assert not anchor or anchor in anchors(ROOT / page), pointer
        for section in re.findall(r"README, section '([^']+)'", pointer):
            assert github_slug(section) in anchors(ROOT / "README.md"), pointer
