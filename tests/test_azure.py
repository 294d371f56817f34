"""The entrypoint as an Azure Pipelines container job runs it, its output read the way the
agent reads it (tests/ci_formats.py): the job recognised, the run named, the outputs as
output variables, the secrets masked first, one error issue, the summary uploaded."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from ci_step.report.ci_env import CiEnv, Platform
from ci_step.report.result import OUTPUT_NAMES
from ci_step.simulator import BuildService, Simulator
from ci_step.workflow_commands import escape_azure
from tests import ci_formats
from tests.conftest import (
    FAILING,
    Run,
    azure_env,
    base_env,
    inputs,
    mendix_env,
    run_entrypoint,
)

PAT = "pat-0a1b2c3d4e5f-SECRET"


def azure_run(
    sim: Simulator, workspace: Path, *args: str, extra: dict[str, str] | None = None, **values: str
) -> Run:
    env = azure_env(workspace, inputs(sim, **values)) | (extra or {})
    return run_entrypoint(env, workspace, *args)


def commands(run: Run, percents: bool = True) -> list[ci_formats.AzureCommand]:
    """What the agent runs: the commands of stdout and of stderr."""
    return ci_formats.azure_commands(run.stdout, percents) + ci_formats.azure_commands(
        run.stderr, percents
    )


def named(run: Run, name: str) -> list[ci_formats.AzureCommand]:
    return [command for command in commands(run) if command.name == name]


# -- the job is recognised, its workspace and run known -----------------------------------


@pytest.mark.parametrize(
    ("variables", "platform"),
    [
        ({"TF_BUILD": "True"}, Platform.AZURE),  # on the agent, or in a container job
        ({"TF_BUILD": "True", "AGENT_CONTAINERID": "6c1b3a2f"}, Platform.AZURE),
        ({"TF_BUILD": "true"}, Platform.AZURE),
        ({"TF_BUILD": "False"}, Platform.LOCAL),
        ({"AGENT_CONTAINERID": "6c1b3a2f"}, Platform.LOCAL),
        ({"SYSTEM_TEAMPROJECT": "Mendix Apps", "BUILD_BUILDID": "812"}, Platform.LOCAL),
        ({"TF_BUILD": "True", "BUILD_TAG": "jenkins-calc-3", "BUILD_NUMBER": "3"}, Platform.AZURE),
    ],
)
def test_azure_is_told_by_tf_build(variables: dict[str, str], platform: Platform) -> None:
    assert CiEnv.detect(variables).platform is platform


def test_workspace_is_the_sources_directory_else_the_default_working_directory(
    tmp_path: Path,
) -> None:
    sources, default = tmp_path / "s", tmp_path / "w"
    both = {
        "TF_BUILD": "True",
        "BUILD_SOURCESDIRECTORY": str(sources),
        "SYSTEM_DEFAULTWORKINGDIRECTORY": str(default),
    }
    assert CiEnv.detect(both).workspace == sources
    del both["BUILD_SOURCESDIRECTORY"]
    assert CiEnv.detect(both).workspace == default


def test_the_package_lands_in_the_sources_directory(sim: Simulator, tmp_path: Path) -> None:
    """The step may start elsewhere (a script's working directory): relative paths are the
    checkout's."""
    sources, elsewhere = tmp_path / "s", tmp_path / "elsewhere"
    sources.mkdir()
    elsewhere.mkdir()
    env = azure_env(sources, inputs(sim))
    run = run_entrypoint(env, elsewhere)
    assert run.code == 0, run.stderr
    assert (sources / "calc-1.2.3.mda").stat().st_size == 200_000
    assert list(elsewhere.iterdir()) == []
    variables = ci_formats.azure_output_variables(commands(run))
    assert variables["artifact-path"] == "calc-1.2.3.mda"


def test_description_names_the_pipeline_run(sim: Simulator, workspace: Path) -> None:
    run = azure_run(sim, workspace, download="false")
    assert run.code == 0, run.stderr
    (post,) = sim.requests("api", "POST")
    assert json.loads(post.body)["Description"] == (
        "Azure Pipelines calc-ci #20250301.4: "
        "https://dev.azure.com/acme/Mendix%20Apps/_build/results?buildId=812 "
        "[revision 3f2a9c1b7e]"
    )


@pytest.mark.parametrize(
    ("variables", "description"),
    [
        ({"BUILD_DEFINITIONNAME": "calc-ci"}, "Azure Pipelines calc-ci"),
        ({"BUILD_BUILDNUMBER": "7"}, "Azure Pipelines #7"),
        (
            {
                "SYSTEM_COLLECTIONURI": "https://tfs.example.com/tfs/Default",
                "SYSTEM_TEAMPROJECT": "p",
                "BUILD_BUILDID": "9",
            },
            "Azure Pipelines: https://tfs.example.com/tfs/Default/p/_build/results?buildId=9",
        ),
        ({}, "Built by mendix-build"),
    ],
)
def test_description_uses_what_the_agent_tells(variables: dict[str, str], description: str) -> None:
    assert CiEnv.detect({"TF_BUILD": "True"} | variables).run_description() == description


# -- outputs as output variables ----------------------------------------------------------


def test_outputs_are_output_variables_set_once_each_on_stderr(
    sim: Simulator, service: BuildService, workspace: Path
) -> None:
    run = azure_run(sim, workspace, result_file="result.json")
    assert run.code == 0, run.stderr
    assert ci_formats.azure_commands(run.stdout) == []
    setvariables = named(run, "task.setvariable")
    assert [c.properties for c in setvariables] == [
        {"variable": name, "isoutput": "true"} for name in OUTPUT_NAMES
    ]
    variables = ci_formats.azure_output_variables(setvariables)
    document = run.result()
    for name in OUTPUT_NAMES:
        value = document[name]
        shown = "" if value is None else str(value)
        if isinstance(value, bool):
            shown = "true" if value else "false"
        assert variables[name] == shown, name
    assert variables["package-id"] == service.apps["calc"].packages[0].package_id


def test_a_value_with_the_agents_special_characters_reads_back_as_written(
    sim: Simulator, workspace: Path
) -> None:
    path = "out/a;b]c%d 100%AZP25 %3B.mda"
    run = azure_run(sim, workspace, artifact_path=path)
    assert run.code == 0, run.stderr
    variables = ci_formats.azure_output_variables(commands(run))
    assert variables["artifact-path"] == path
    assert (workspace / path).stat().st_size == 200_000


def test_without_decoded_percents_a_value_the_agent_would_change_is_refused(
    sim: Simulator, workspace: Path
) -> None:
    """A job that sets DECODE_PERCENTS=false has the agent read %AZP25 as written: a `%`
    is then passed as it is, and a value holding an escape as written cannot be given."""
    run = azure_run(sim, workspace, artifact_path="a%3Bb.mda", extra={"DECODE_PERCENTS": "false"})
    assert run.code == 2, run.stderr
    assert named(run, "task.setvariable") == []  # not written at all, never half
    (issue,) = ci_formats.azure_commands(
        next(line for line in run.stderr.splitlines() if "task.logissue" in line), percents=False
    )
    # the agent shows the message as written, but for a space that keeps it from unescaping
    assert "output artifact-path holds % 3B, % 0D, % 0A or % 5D as written" in issue.data
    assert "sets DECODE_PERCENTS to false" in issue.data
    assert "Fix: leave DECODE_PERCENTS at its default (true)" in issue.data

    fine = azure_run(sim, workspace, artifact_path="b 50%.mda", extra={"DECODE_PERCENTS": "false"})
    assert fine.code == 0, fine.stderr
    read = ci_formats.azure_output_variables(commands(fine, percents=False))
    assert read["artifact-path"] == "b 50%.mda"
    assert "%AZP25" not in fine.stderr


# -- secrets are masked before anything else is printed --------------------------------------


def agent_masks(command: ci_formats.AzureCommand, line: str) -> set[str]:
    """What TaskSetSecretCommand adds to the masker: the data, and with DECODE_PERCENTS
    false also the data read again with %AZP25 decoded."""
    raw = line[line.index("]") + 1 :]
    return {command.data, ci_formats.azure_unescape(raw, percents=True)}


@pytest.mark.parametrize("decode", ["", "false"])
def test_every_secret_input_is_masked_first_and_exactly(
    sim: Simulator, workspace: Path, decode: str
) -> None:
    key = "k3y;9f]00%25-SECRET%3B-7c1d"
    values = inputs(sim, api_key=key, pat=PAT)
    env = azure_env(workspace, values) | ({"DECODE_PERCENTS": decode} if decode else {})
    run = run_entrypoint(env, workspace)
    lines = run.stderr.splitlines()
    percents = decode != "false"
    first, second = (ci_formats.azure_command(line, percents) for line in lines[:2])
    assert first is not None
    assert second is not None
    assert (first.name, second.name) == ("task.setsecret", "task.setsecret")
    assert key in agent_masks(first, lines[0])
    assert PAT in agent_masks(second, lines[1])
    assert lines[0] == f"##vso[task.setsecret]{escape_azure(key)}"
    rest = "\n".join(lines[2:]) + run.stdout
    assert key not in rest
    assert PAT not in rest


# -- one error issue, with the cause and the fix ---------------------------------------------


def test_a_failure_is_one_error_issue_with_cause_fix_and_where_to_read(
    sim: Simulator, workspace: Path
) -> None:
    run = azure_run(sim, workspace, revision=FAILING)
    assert run.code == 1, run.stderr
    (issue,) = named(run, "task.logissue")
    assert issue.properties == {"type": "error"}
    assert issue.data.startswith("mendix-build: failure: The Mendix build of version 1.2.3")
    assert "ended Failed; package " in issue.data  # `;` escaped, and read back
    assert "Fix: open the app's package list in the Mendix Portal" in issue.data
    assert "More: https://docs.mendix.com/apis/build-api/" in issue.data
    assert "\n" not in issue.data
    line = next(line for line in run.stderr.splitlines() if "##vso[task.logissue" in line)
    assert line == run.stderr.splitlines()[-1]  # the step's last word


def test_success_raises_no_issue(sim: Simulator, workspace: Path) -> None:
    run = azure_run(sim, workspace)
    assert run.code == 0, run.stderr
    assert named(run, "task.logissue") == []


# -- the summary: a file of its own in the agent's temp directory, uploaded ------------------


def test_summary_is_a_new_file_in_the_agent_temp_directory_uploaded_once(
    sim: Simulator, workspace: Path
) -> None:
    temp = workspace.parent / "agent_temp"
    first = azure_run(sim, workspace, revision=FAILING)
    second = azure_run(sim, workspace, version="1.2.4")
    paths = []
    for run, result in ((first, "failure"), (second, "success")):
        (upload,) = named(run, "task.uploadsummary")
        path = Path(upload.data)
        assert path.parent.parent == temp
        assert path.name == "mendix-build.md"  # the agent titles the section after it
        assert stat.S_ISREG(path.lstat().st_mode)
        assert f"Mendix build: {result}" in path.read_text("utf-8")
        paths.append(path)
    assert paths[0] != paths[1]  # the agent uploads after the step: the first one stays
    assert "ended Failed" in paths[0].read_text("utf-8")
    assert sorted(p.name for p in temp.iterdir()) == sorted(p.parent.name for p in paths)


def test_without_a_temp_directory_there_is_no_summary(sim: Simulator, workspace: Path) -> None:
    env = azure_env(workspace, inputs(sim))
    del env["AGENT_TEMPDIRECTORY"]
    run = run_entrypoint(env, workspace)
    assert run.code == 0, run.stderr
    assert named(run, "task.uploadsummary") == []
    assert ci_formats.azure_output_variables(commands(run))["result"] == "success"


def test_an_unwritable_summary_turns_success_into_an_output_error_said_everywhere(
    sim: Simulator, workspace: Path
) -> None:
    """The summary is written last: when it fails the variables are set again with the
    error (the agent keeps the last value), and nothing is uploaded."""
    blocker = workspace.parent / "not-a-directory"
    blocker.write_text("", encoding="utf-8")
    run = azure_run(sim, workspace, extra={"AGENT_TEMPDIRECTORY": str(blocker)})
    assert run.code == 2, run.stderr
    assert named(run, "task.uploadsummary") == []
    values = [
        c.data for c in named(run, "task.setvariable") if c.properties["variable"] == "result"
    ]
    assert values == ["success", "error"]
    assert ci_formats.azure_output_variables(commands(run))["result"] == "error"
    (issue,) = named(run, "task.logissue")
    assert "Output not written: " in issue.data
    assert "mendix-build.md" in issue.data


def test_the_summary_is_written_last_so_a_later_failure_never_uploads_it_twice(
    sim: Simulator, workspace: Path
) -> None:
    """The agent uploads each summary it is handed: one written before the result file
    failed would be handed over again with the error."""
    (workspace / "reports").write_text("a file, not a directory", encoding="utf-8")
    run = azure_run(sim, workspace, result_file="reports/result.json")
    assert run.code == 2, run.stderr
    (upload,) = named(run, "task.uploadsummary")
    assert Path(upload.data).read_text("utf-8").startswith("### ⚠️ Mendix build: error")
    variables = ci_formats.azure_output_variables(commands(run))
    assert variables["result"] == "error"
    assert variables["artifact-path"] == "calc-1.2.3.mda"


# -- Azure's own bad input -------------------------------------------------------------------


def test_an_unresolved_secret_reference_is_refused_before_any_request(
    sim: Simulator, workspace: Path
) -> None:
    """A step's `env:` mapping a secret variable the job does not have gets `$(NAME)` as
    written: sent as the key it would be refused by Mendix; here nothing is sent."""
    run = azure_run(sim, workspace, api_key="$(MENDIX_API_KEY)", result_file="result.json")
    assert run.code == 2, run.stderr
    assert sim.requests() == []
    message = (
        "`env: MENDIX_API_KEY:` is a `$(…)` naming the pipeline variable MENDIX_API_KEY, "
        "which this job does not have"
    )
    assert message in run.stderr
    error = run.result()["error"]
    assert isinstance(error, dict)
    assert error["fix"] == "define the variable MENDIX_API_KEY for this job"
    (issue,) = named(run, "task.logissue")
    assert message in issue.data


def test_outside_azure_a_parenthesised_value_is_only_a_value(
    sim: Simulator, workspace: Path
) -> None:
    values = inputs(sim, api_key="$(MENDIX_API_KEY)")
    run = run_entrypoint(base_env(workspace.parent) | mendix_env(values), workspace)
    assert run.code == 3, run.stderr  # sent, and refused by the API
    assert "pipeline variable" not in run.stderr


def test_revision_of_the_pipelines_own_commit_is_warned_about(
    sim: Simulator, workspace: Path
) -> None:
    run = azure_run(sim, workspace, revision="2" * 12, download="false")
    assert "`env: MENDIX_REVISION:` is this pipeline's own commit" in run.stderr
