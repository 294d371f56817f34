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
from ci_step.report.ci_env import CiEnv, Platform
from ci_step.report.render import _escape_java
from ci_step.simulator import BuildService, Fault, Simulator
from ci_step.workflow_commands import escape_data
from tests.conftest import API_KEY, Run, github_env, inputs, run_entrypoint, run_local

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


# -- secrets are redacted before a format escapes them ---------------------------------

KEY = 'k3y\\9f"00%25-SECRET,:|7c1d'


def encodings(secret: str) -> dict[str, str]:
    raw = secret.encode()
    return {
        "raw": secret,
        "json": json.dumps(secret)[1:-1],
        "workflow": secret.replace("%", "%25"),
        "url": quote(secret, safe=""),
        "url-plus": quote_plus(secret, safe=""),
        "base64": base64.b64encode(raw).decode().rstrip("="),
        "base64-url": base64.urlsafe_b64encode(raw).decode().rstrip("="),
        "python": secret.encode("unicode_escape").decode(),
        "markdown": secret.replace("\\", "\\\\").replace("|", "\\|"),
        "properties": _escape_java(secret, key=False),
    }


@pytest.mark.parametrize("echo", ["raw", "json", "url", "base64"])
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
