"""What the server sends is data: never a path, never a CI command, never a way for a
secret to reach an output in another encoding."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from ci_step.config.inputs import INPUTS
from ci_step.config.validate import RawInput, validate
from ci_step.inert import inert
from ci_step.report.ci_env import CiEnv, Platform
from ci_step.report.render import _escape_java
from ci_step.simulator import BuildService, Fault, Simulator
from ci_step.workflow_commands import escape_azure, escape_data
from tests import ci_formats
from tests.conftest import (
    API_KEY,
    CIS,
    Run,
    azure_env,
    github_env,
    inputs,
    run_entrypoint,
    run_local,
)

ONE_PACKAGE = r"/packages/[^/]+$"
INJECTED = (
    "bad request\n::error::x\n::add-mask::leak\n::stop-commands::tok123\n"
    "  ::warning file=a.py,line=1::w\n##[error]old form\rzz::notice::r\r\n"
    "\t::error title=t::tab ##[warning]again\u2028::debug::d"
)


def tree(root: Path) -> set[Path]:
    return set(root.rglob("*"))


def runner_commands(text: str) -> list[str]:
    """The lines GitHub's runner tries as workflow commands, whatever the name (which
    ``stop-commands`` can make anything): it reads lines split at \\r, \\n and \\r\\n;
    ActionCommand.TryParseV2 takes `::` after leading white space with a second `::`
    later, TryParse takes `##[` anywhere with a `]` after it."""
    found = []
    for line in re.split(r"\r\n|\r|\n", text):
        trimmed = line.lstrip()
        old = line.find("##[")
        if (trimmed.startswith("::") and "::" in trimmed[2:]) or (old >= 0 and "]" in line[old:]):
            found.append(line)
    return found


# -- the package's Version never names a file ------------------------------------------


@pytest.mark.parametrize("answered", ["1.0.0/../../x", "1.2.3.63", "9.9.9"])
def test_run_names_the_file_after_the_version_it_asked_for(
    sim: Simulator, workspace: Path, answered: str
) -> None:
    sim.add_fault(
        Fault("rewrite", path=ONE_PACKAGE, times=-1, field_name="Version", field_value=answered)
    )
    before = tree(workspace.parent)
    run = run_local(sim, workspace, version="1.2.3")
    assert run.code == 0, run.stderr
    assert tree(workspace.parent) - before == {
        workspace / "calc-1.2.3.mda",
        workspace / "result.json",
    }
    assert run.result()["artifact-path"] == "calc-1.2.3.mda"


def test_download_refuses_a_version_that_is_not_major_minor_patch(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    package = service.seed_package("calc", "1.0.0/../../x")
    before = tree(workspace.parent)
    run = run_local(sim, workspace, "download", package.package_id)
    assert run.code == 5, run.stderr
    assert tree(workspace.parent) - before == {workspace / "result.json"}
    assert "'1.0.0/../../x', not major.minor.patch" in run.stderr
    assert sim.requests("storage") == []


def test_download_names_the_file_without_a_fourth_part(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    package = service.seed_package("calc", "2.5.4.63")
    run = run_local(sim, workspace, "download", package.package_id)
    assert run.code == 0, run.stderr
    assert run.result()["artifact-path"] == "calc-2.5.4.mda"
    assert (workspace / "calc-2.5.4.mda").stat().st_size == 200_000


# -- no line the step prints is a workflow command -----------------------------------


def github_run(sim: Simulator, workspace: Path, *args: str, **values: str) -> Run:
    return run_entrypoint(github_env(workspace, inputs(sim, **values)), workspace, *args)


def only_own_commands(run: Run) -> None:
    commands = runner_commands(run.stdout + "\n" + run.stderr)
    own = [line for line in commands if line != f"::add-mask::{API_KEY}"]
    assert len(own) == 1, own
    assert own[0].startswith("::error title=mendix-build%3A error::")


def test_sanity_the_runner_rules_see_the_injected_commands() -> None:
    assert len(runner_commands(INJECTED)) == 6


@pytest.mark.parametrize("log_format", ["console", "json"])
def test_api_error_message_never_becomes_a_command(
    sim: Simulator, workspace: Path, log_format: str
) -> None:
    body = json.dumps({"errorCode": "INVALID_PARAMETERS", "errorMessage": INJECTED})
    sim.add_fault(Fault("status", method="POST", status=400, body=body))
    run = github_run(sim, workspace, log_format=log_format)
    assert run.code == 5, run.stderr
    assert "bad request" in run.stderr
    only_own_commands(run)


@pytest.mark.parametrize("log_format", ["console", "json"])
def test_control_characters_from_the_api_reach_no_printed_line(
    sim: Simulator, workspace: Path, log_format: str
) -> None:
    """A server's text can neither clear, colour or hide the log, nor start a line."""
    message = "bad\x1b[2J\x1b[8mhidden\rFAKE: Build step succeeded\u202egnp.\x00\x85end"
    body = json.dumps({"errorCode": "INVALID_PARAMETERS", "errorMessage": message})
    sim.add_fault(Fault("status", method="POST", status=400, body=body))
    run = github_run(sim, workspace, log_format=log_format)
    assert run.code == 5, run.stderr
    printed = run.stdout + run.stderr
    assert [c for c in printed if not (c.isprintable() or c in "\n\t")] == []
    assert not any(line.startswith("FAKE") for line in printed.splitlines())
    assert "hidden" in printed


@pytest.mark.parametrize("log_format", ["console", "json"])
def test_package_texts_never_become_commands(
    sim: Simulator, service: BuildService, workspace: Path, log_format: str
) -> None:
    shown, refused = service.seed_package("calc", "1.0.0"), service.seed_package("calc", "1.0.1")
    for path, names in (
        (f"/packages/{refused.package_id}$", "Name|Description|Version"),
        (ONE_PACKAGE, "Name|Description"),
        ("/packages$", "Name|Description|Version"),
    ):
        sim.add_fault(
            Fault(
                "rewrite",
                method="GET",
                path=path,
                times=-1,
                field_name=names,
                field_value=INJECTED,
            )
        )
    runs = [
        github_run(sim, workspace, *args, log_format=log_format)
        for args in (
            ("show", shown.package_id),
            ("list",),
            ("list", "--json"),
            ("wait", shown.package_id),
            ("download", refused.package_id),
        )
    ]
    assert [run.code for run in runs] == [0, 0, 0, 0, 5]
    assert "::error::x" in runs[0].stdout  # the text is there, only inert
    assert "\n: :error::x\n" in runs[1].stdout  # a table cell across lines
    for run in runs[:4]:
        commands = runner_commands(run.stdout + "\n" + run.stderr)
        assert commands == [f"::add-mask::{API_KEY}"]
    only_own_commands(runs[4])


# -- no line the step prints is an Azure logging command, in any CI -----------------------

AZURE_INJECTED = (
    "bad request ##vso[task.setvariable variable=x]1\n"
    "##vso[task.setvariable variable=result;isoutput=true]success\r"
    "see ##VSO[task.complete result=Succeeded]done\n"
    "##[error]a fake error\u2028##[group]a fold ###vso[task.setsecret]y\n"
    "#\u200b#vso[task.uploadsummary]/etc/passwd"
)
AZURE_OWN = {"task.setsecret", "task.setvariable", "task.logissue", "task.uploadsummary"}


def foreign_azure_lines(run: Run) -> list[str]:
    """Lines the agent would run as a command, or its log would format (``##[`` in any
    case), that are not the step's own commands."""
    found = []
    for line in re.split(r"\r\n|\r|\n", run.stdout + "\n" + run.stderr):
        command = ci_formats.azure_command(line)
        own = command is not None and line.startswith(f"##vso[{command.name}")
        if own and command is not None and command.name in AZURE_OWN:
            rest = line[line.index("]") + 1 :]
        else:
            rest = line
        if "##vso[" in rest.lower() or "##[" in rest:
            found.append(line)
    return found


def test_sanity_the_agent_rules_see_the_injected_commands() -> None:
    names = [c.name for c in ci_formats.azure_commands(AZURE_INJECTED.replace("\u2028", "\n"))]
    assert names == ["task.setvariable", "task.setvariable", "task.setsecret"]
    assert ci_formats.azure_output_variables(ci_formats.azure_commands(AZURE_INJECTED)) == {
        "result": "success"
    }


@pytest.mark.parametrize("ci", list(CIS))
@pytest.mark.parametrize("log_format", ["console", "json"])
def test_an_api_message_never_becomes_an_azure_command(
    sim: Simulator, workspace: Path, ci: str, log_format: str
) -> None:
    """A log may be read by any CI (a job that runs the step's command, a log shipped on):
    whatever the CI, no foreign line starts an Azure command."""
    body = json.dumps({"errorCode": "INVALID_PARAMETERS", "errorMessage": AZURE_INJECTED})
    sim.add_fault(Fault("status", method="POST", status=400, body=body))
    values = inputs(sim, log_format=log_format, result_file="result.json")
    run = run_entrypoint(CIS[ci](workspace, values), workspace)
    assert run.code == 5, run.stderr
    assert "bad request ## vso[task.setvariable variable=x]1" in run.stderr  # shown, inert
    assert foreign_azure_lines(run) == []
    commands = ci_formats.azure_commands(run.stdout + "\n" + run.stderr)
    if ci != "azure":
        assert commands == []
        return
    assert {c.name for c in commands} == AZURE_OWN
    variables = ci_formats.azure_output_variables(commands)
    assert "x" not in variables
    assert variables["result"] == "error"
    assert [c.data for c in commands if c.name == "task.setsecret"] == [API_KEY]
    (issue,) = [c for c in commands if c.name == "task.logissue"]
    assert "bad request ## vso[task.setvariable variable=x]1" in issue.data


@pytest.mark.parametrize("ci", ["azure", "gitlab"])
def test_package_texts_never_become_azure_commands(
    sim: Simulator, service: BuildService, workspace: Path, ci: str
) -> None:
    shown = service.seed_package("calc", "1.0.0")
    sim.add_fault(
        Fault(
            "rewrite",
            method="GET",
            path="/packages",
            times=-1,
            field_name="Name|Description",
            field_value=AZURE_INJECTED,
        )
    )
    values = inputs(sim)
    for args in (("show", shown.package_id), ("list",), ("list", "--json")):
        run = run_entrypoint(CIS[ci](workspace, values), workspace, *args)
        assert run.code == 0, run.stderr
        if args != ("list",):  # the table shows no name nor description
            assert "## vso[task.setvariable" in run.stdout  # the text is there, only inert
        assert foreign_azure_lines(run) == []
        assert ci_formats.azure_commands(run.stdout) == []


def test_an_app_log_line_never_becomes_an_azure_command(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    production = service.apps["calc"].environments["Production"]
    production.start_seconds, production.start_error = 0.2, "START_FAILED"
    production.log_tail = AZURE_INJECTED.split("\n")
    values = inputs(sim, environment="Production", allow_production="true", backup="false")
    run = run_entrypoint(azure_env(workspace, values), workspace)
    assert run.code == 7, run.stderr
    assert "## [error]a fake error" in run.stderr
    assert foreign_azure_lines(run) == []
    commands = ci_formats.azure_commands(run.stderr)
    assert {c.name for c in commands} == AZURE_OWN
    assert "x" not in ci_formats.azure_output_variables(commands)
    (upload,) = [c for c in commands if c.name == "task.uploadsummary"]
    assert upload.data.endswith("/mendix-build.md")


# -- secrets are redacted before a format escapes them ---------------------------------

KEY = 'k3y\\9f"00%25-SECRET,:|7c1d'


def encodings(secret: str) -> dict[str, str]:
    raw = secret.encode()
    return {
        "raw": secret,
        "json": json.dumps(secret)[1:-1],
        "workflow": secret.replace("%", "%25"),
        "azure": escape_azure(secret),
        "url": quote(secret, safe=""),
        "url-plus": quote_plus(secret, safe=""),
        "base64": base64.b64encode(raw).decode().rstrip("="),
        "base64-url": base64.urlsafe_b64encode(raw).decode().rstrip("="),
        "python": secret.encode("unicode_escape").decode(),
        "markdown": secret.replace("\\", "\\\\").replace("|", "\\|"),
        "properties": _escape_java(secret, key=False),
    }


@pytest.mark.parametrize("echo", ["raw", "json", "url", "base64", "azure"])
@pytest.mark.parametrize("log_format", ["console", "json"])
def test_key_echoed_in_a_401_reaches_no_output_in_any_encoding(
    sim: Simulator, workspace: Path, echo: str, log_format: str
) -> None:
    message = f"Invalid Mendix-ApiKey {encodings(KEY)[echo]} for this user."
    body = json.dumps({"errorCode": "UNAUTHORIZED", "errorMessage": message})
    sim.add_fault(Fault("status", status=401, times=-1, body=body))
    values = inputs(sim, api_key=KEY, result_file="r.json", log_format=log_format)
    run = run_entrypoint(github_env(workspace, values), workspace)
    assert run.code == 3, run.stderr
    assert "Invalid Mendix-ApiKey *** for this user" in run.stderr
    commands = workspace.parent / "file_commands"
    # the one line that must carry the key, %-escaped as the runner unescapes command data
    mask = f"::add-mask::{escape_data(KEY)}"
    assert mask in run.stderr.splitlines()
    stderr = "\n".join(line for line in run.stderr.splitlines() if line != mask)
    assert "::error title=mendix-build%3A error::" in stderr
    places = {
        "stdout": run.stdout,
        "stderr": stderr,
        "result file": run.file("r.json"),
        "GITHUB_OUTPUT": (commands / "set_output").read_text(encoding="utf-8"),
        "GITHUB_STEP_SUMMARY": (commands / "step_summary").read_text(encoding="utf-8"),
    }
    leaks = [
        (place, form)
        for place, text in places.items()
        for form, encoded in encodings(KEY).items()
        if encoded in text
    ]
    assert leaks == []


def test_config_repr_carries_no_secret() -> None:
    values = {
        "app-id": "calc",
        "username": "u@example.com",
        "api-key": "key-4f1c-SECRET",
        "pat": "pat-77a0-SECRET",
        "project-id": "p-1",
        "revision": "latest",
        "version": "1.0.0",
    }
    raw = {s.name: RawInput(values.get(s.name, s.default), s.name) for s in INPUTS}
    config = validate(raw, CiEnv(Platform.LOCAL, {}))
    assert "SECRET" not in repr(config)
    assert "calc" in repr(config)


def test_log_tail_and_job_messages_never_become_commands_or_markup(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    """The app log's lines are foreign text too: a failed start's log tail that holds runner
    commands and markup gives no command, and its link stays inside the summary's fenced
    block. Backup is off, so no snapshot (nor its status message) is part of this run."""
    production = service.apps["calc"].environments["Production"]
    production.start_seconds, production.start_error = 0.2, "START_FAILED"
    production.log_tail = [*INJECTED.split("\n"), "see [here](https://evil.example) <img src=x>"]
    run = github_run(
        sim, workspace, environment="Production", allow_production="true", backup="false"
    )
    assert run.code == 7, run.stderr
    commands = runner_commands(run.stdout + "\n" + run.stderr)
    own = [line for line in commands if line != f"::add-mask::{API_KEY}"]
    assert len(own) == 1, own
    assert own[0].startswith("::error title=mendix-build%3A failure::")
    summary = (workspace.parent / "file_commands" / "step_summary").read_text("utf-8")
    folded = summary.split("<details>", 1)[1].split("</details>", 1)[0]
    assert "evil.example" in folded  # shown, inside the fenced block
    outside = summary.replace(folded, "")
    assert "evil.example" not in outside
    assert "<img" not in outside


def test_inert_breaks_every_bracket_form_wherever_it_is() -> None:
    text = "x ##vso[a.b]1 ##VSO[c.d]2 ###vso[e.f]3 ##[error]4 #### [ok\n::warning::w"
    assert inert(text) == (
        "x ## vso[a.b]1 ## VSO[c.d]2 ### vso[e.f]3 ## [error]4 #### [ok\n: :warning::w"
    )
    assert ci_formats.azure_commands(inert(text)) == []
