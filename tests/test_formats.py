"""Rendered outputs parse back to exactly the values given, in each CI's own rules;
hostile values cannot add or change another output."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ci_step.errors import ApiError, OutputError
from ci_step.report import render
from ci_step.report.result import OUTPUT_NAMES, PIPELINE_OUTPUTS, StepResult
from tests import ci_formats

SAMPLE = {name: f"value-{index}" for index, name in enumerate(OUTPUT_NAMES)}


def with_value(value: str) -> dict[str, str]:
    return SAMPLE | {"version": value}


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_github_output_round_trips_any_text(value: str) -> None:
    try:
        text = render.github_output(with_value(value))
    except OutputError:
        assert (
            any(c in value for c in "\r")
            or any(ord(c) < 32 and c not in "\t\n" for c in value)
            or "\x7f" in value
        )
        return
    assert ci_formats.github_file_command(text) == with_value(value)


def test_github_output_cannot_be_injected() -> None:
    hostile = "1.0.0\nresult<<EOF\nsuccess\nEOF\nghadelimiter_x"
    text = render.github_output(with_value(hostile), delimiter="ghadelimiter_x")
    parsed = ci_formats.github_file_command(text)
    assert parsed == with_value(hostile)
    assert "ghadelimiter_x\n" not in text.split("version<<", 1)[1].split("\n", 1)[0]


# The fullest dotenv report the step writes: a deploy with unit tests, no pipeline run (a
# gate's outputs are left out when it did not run: GitLab allows 20 variables on some plans).
DOTENV_SAMPLE = {name: value for name, value in SAMPLE.items() if name not in PIPELINE_OUTPUTS}


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_dotenv_round_trips_or_refuses(value: str) -> None:
    try:
        text = render.dotenv(DOTENV_SAMPLE | {"version": value})
    except OutputError:
        return
    parsed = ci_formats.gitlab_dotenv(text.encode("utf-8"))
    assert parsed["MENDIX_VERSION"] == value
    assert len(parsed) == len(DOTENV_SAMPLE)


def test_dotenv_refuses_more_variables_than_gitlab_takes() -> None:
    with pytest.raises(OutputError, match="at most 20"):
        render.dotenv(SAMPLE)


@pytest.mark.parametrize("value", ["a\nMENDIX_RESULT=success", "a\rb", " padded", "x\x00"])
def test_dotenv_refuses_what_gitlab_would_change(value: str) -> None:
    with pytest.raises(OutputError):
        render.dotenv(DOTENV_SAMPLE | {"version": value})


def test_dotenv_size_limit() -> None:
    with pytest.raises(OutputError, match="5 KiB"):
        render.dotenv(DOTENV_SAMPLE | {"version": "x" * 6000})


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_properties_round_trip_any_text(value: str) -> None:
    text = render.properties(with_value(value))
    text.encode("ascii")  # ASCII only: no charset question for readProperties
    parsed = ci_formats.java_properties(text)
    assert parsed["MENDIX_VERSION"] == value
    assert len(parsed) == len(OUTPUT_NAMES)


JAVA_READER = """
import java.io.*; import java.util.*; import java.nio.charset.StandardCharsets;
public class ReadProps { public static void main(String[] a) throws Exception {
  Properties p = new Properties();
  try (Reader r = new InputStreamReader(new FileInputStream(a[0]), StandardCharsets.UTF_8)) {
    p.load(r); }
  PrintStream out = new PrintStream(System.out, true, "UTF-8");
  for (String k : new TreeSet<>(p.stringPropertyNames())) {
    StringBuilder hex = new StringBuilder();
    for (byte b : p.getProperty(k).getBytes(StandardCharsets.UTF_8))
      hex.append(String.format("%02x", b));
    out.println(k + " " + hex);
  } } }
"""


@pytest.mark.skipif(shutil.which("java") is None, reason="no java on this machine")
def test_properties_read_by_real_java(tmp_path: Path) -> None:
    values = [
        "plain",
        "a=b:c#d!e",
        " lead and trail ",
        "line\nbreak\r\n",
        "back\\slash",
        "ünïcødé ✓ 🚀",
        "\t\f tabs",
        "#not a comment",
        "trailing\\",
    ]
    source = tmp_path / "ReadProps.java"
    source.write_text(JAVA_READER, encoding="utf-8")
    for value in values:
        props = tmp_path / "out.properties"
        props.write_text(render.properties(with_value(value)), encoding="utf-8")
        done = subprocess.run(
            ["java", str(source), str(props)],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        parsed = dict(line.split(" ", 1) for line in done.stdout.splitlines())
        assert bytes.fromhex(parsed["MENDIX_VERSION"].strip() or "").decode() == value
        assert len(parsed) == len(OUTPUT_NAMES)


AZURE_SPECIALS = st.text(alphabet=st.sampled_from("%;]\r\n0ABDZP235 x[#vso"), max_size=30)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), AZURE_SPECIALS), st.booleans())
@example("50%3B", False)
@example("x%0Ay]%", False)
@example("nul\x00", True)
def test_azure_variables_round_trip_or_refuse(value: str, percents: bool) -> None:
    """Read back by the agent's rules (DECODE_PERCENTS on or off), every value is the one
    given, or the whole set is refused: never a value changed, another variable set, or a
    line of its own."""
    try:
        text = render.azure_variables(with_value(value), percents=percents)
    except OutputError:
        refused_control = any((ord(c) < 32 and c not in "\t\n\r") or c == "\x7f" for c in value)
        escape_as_written = any(e in value for e in ("%3B", "%0D", "%0A", "%5D"))
        assert refused_control or (escape_as_written and not percents)
        return
    assert not any((ord(c) < 32 and c not in "\t\n\r") or c == "\x7f" for c in value)
    lines = re.split(r"\r\n|\n|\r", text.removesuffix("\n"))  # as .NET's ReadLine reads
    assert len(lines) == len(OUTPUT_NAMES)
    commands = ci_formats.azure_commands(text, percents)
    assert [c.name for c in commands] == ["task.setvariable"] * len(OUTPUT_NAMES)
    assert ci_formats.azure_output_variables(commands) == with_value(value)


@pytest.mark.parametrize(
    "value", ["a;b", "x]y", "50%", "100%AZP25", "%3B", "two\nlines", "cr\r\nlf", "]%;\n"]
)
def test_azure_special_characters_read_back_as_written(value: str) -> None:
    text = render.azure_variables(with_value(value))
    variables = ci_formats.azure_output_variables(ci_formats.azure_commands(text))
    assert variables["version"] == value
    assert len(re.split(r"\r\n|\n|\r", text.removesuffix("\n"))) == len(OUTPUT_NAMES)


@pytest.mark.parametrize("value", ["nul\x00", "esc\x1b[2J", "bell\x07"])
def test_azure_variables_refuse_control_characters(value: str) -> None:
    with pytest.raises(OutputError, match="output version holds control characters"):
        render.azure_variables(with_value(value))


def test_azure_command_escaping() -> None:
    line = render.azure_command(
        "task.setvariable", "50%; done]\r\n", variable="a;b]", isoutput="true"
    )
    assert line == (
        "##vso[task.setvariable variable=a%3Bb%5D;isoutput=true]50%AZP25%3B done%5D%0D%0A"
    )
    (command,) = ci_formats.azure_commands(line)
    assert command.properties == {"variable": "a;b]", "isoutput": "true"}
    assert command.data == "50%; done]\r\n"


def test_azure_message_is_one_printable_line_without_a_command_of_its_own() -> None:
    line = render.azure_message(
        "task.logissue", "cause ##vso[task.setsecret]x\n##[error]y\x1b[2J", type="error"
    )
    assert (
        line == "##vso[task.logissue type=error]cause ## vso[task.setsecret%5Dx ## [error%5Dy [2J"
    )
    (command,) = ci_formats.azure_commands(line)
    assert command.data == "cause ## vso[task.setsecret]x ## [error]y [2J"


def test_workflow_command_escaping() -> None:
    line = render.github_command("error", "50% done\nnext::line\r", title="a:b,c")
    assert line == "::error title=a%3Ab%2Cc::50%25 done%0Anext::line%0D"
    assert "\n" not in line


def test_step_summary_escapes_table_cells() -> None:
    result = StepResult(outcome="success", version="1|2")
    summary = render.step_summary(result)
    assert "` 1\\|2 `" in summary


def test_step_summary_renders_no_text_from_the_network() -> None:
    """Foreign text sits in code: no link, image or HTML of a server's renders."""
    message = "see [log in](https://evil.example/login) <img src=x> ```\n# head"
    result = StepResult(version="1`x` <b>|")
    result.fail(ApiError(f"The Mendix API rejected the request ({message})."))
    summary = render.step_summary(result)
    block = summary.split("````text\n", 1)[1].split("\n````\n", 1)[0]
    assert message in block  # shown whole, inside a fence longer than its backticks
    assert "| version | `` 1`x` <b>\\| `` |" in summary
    outside = summary.replace(block, "")
    assert "evil.example" not in outside
    assert "<img" not in outside


def test_json_document_types() -> None:
    result = StepResult(artifact_size=12, duration_seconds=3.14159)
    result.succeed()
    document = json.loads(render.json_document(result))
    assert document["artifact-size"] == 12
    assert document["duration-seconds"] == 3.1
    assert document["exit-code"] == 0
    assert document["error"] is None
    assert set(OUTPUT_NAMES) <= set(document)


def test_step_summary_folds_the_log_tail_and_lists_settings_changes() -> None:
    result = StepResult(environment="Production", settings_changes=["constant A.B: set to 2"])
    result.log_tail = ["INFO ok", "CRITICAL - Core: <b>sync</b> failed (DB_SYNC_FAILED)"]
    result.fail(ApiError("start failed"))
    summary = render.step_summary(result)
    folded = summary.split("<details><summary>", 1)[1].split("</details>", 1)[0]
    assert "The last 2 lines of the environment's log" in folded
    assert "```text\nINFO ok\nCRITICAL - Core: <b>sync</b> failed (DB_SYNC_FAILED)\n```" in folded
    assert "constant A.B: set to 2" in summary.split("Settings changed", 1)[1]
    assert json.loads(render.json_document(result))["error"]["log-tail"] == result.log_tail
