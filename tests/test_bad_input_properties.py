"""Property-based: whatever arrives as configuration, a bad input ends in exit 2 with a
message naming it: never a traceback, never a request."""

from __future__ import annotations

import contextlib
import re
import tempfile
from pathlib import Path

import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ci_step.cli import cli
from ci_step.config.inputs import FILE_KEYS, INPUTS
from ci_step.domain.versions import AUTO_VERSIONS
from ci_step.simulator import Simulator
from tests.conftest import API_KEY, USER

CI_MARKERS = {"GITHUB_ACTIONS": None, "GITLAB_CI": None, "BUILD_TAG": None, "TF_BUILD": None}
CLEAR = {name: None for spec in INPUTS for name in spec.env_names}
VERSION = re.compile(r"\d{1,9}\.\d{1,9}\.\d{1,9}")
SETTINGS = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Environment values cannot hold NUL; everything else goes.
env_text = st.one_of(
    st.text(max_size=80),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1000, max_size=5000),
    st.text(alphabet="\t\n\r\x0b\x0c\x1b\x7f\u2028\u0085 ", max_size=10),
).map(lambda s: s.replace("\x00", ""))
bad_version = env_text.filter(
    lambda s: s.strip() != "" and not VERSION.fullmatch(s) and s not in AUTO_VERSIONS
)


def invoke(sim: Simulator, env: dict[str, str | None], *args: str) -> tuple[int, str]:
    """Run the step in-process; hypothesis reuses the simulator, so count this run's calls."""
    before = len(sim.requests())
    # Outside any CI the workspace is the current directory, and a generated result-file
    # is written even for a refused run: keep those files out of the checkout.
    with tempfile.TemporaryDirectory() as workspace, contextlib.chdir(workspace):
        result = CliRunner().invoke(
            cli, ["run", *args], env=CLEAR | CI_MARKERS | env, catch_exceptions=False
        )
    assert len(sim.requests()) == before, "a request was sent"
    return result.exit_code, result.output


def assert_refused(code: int, output: str) -> None:
    assert code == 2, output
    assert "Traceback" not in output
    assert "Invalid configuration" in output


@SETTINGS
@given(
    values=st.dictionaries(
        st.sampled_from([s.name for s in INPUTS if s.name != "config"]), env_text
    ),
    version=bad_version,
)
def test_any_environment_with_a_bad_value_exits_2(
    sim: Simulator, values: dict[str, str], version: str
) -> None:
    env: dict[str, str | None] = {
        "MENDIX_APP_ID": "calc",
        "MENDIX_USERNAME": USER,
        "MENDIX_API_KEY": API_KEY,
        "MENDIX_REVISION": "abcdef1",
        "MENDIX_BASE_URL": sim.base_url,
    }
    env |= {spec.mendix_variable: values[spec.name] for spec in INPUTS if spec.name in values}
    env["MENDIX_VERSION"] = version
    code, output = invoke(sim, env)
    assert_refused(code, output)
    assert "MENDIX_VERSION" in output


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=40)
)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(st.sampled_from(FILE_KEYS), st.text(max_size=12)), children, max_size=6
        ),
    ),
    max_leaves=20,
)


@SETTINGS
@given(document=documents)
def test_any_yaml_document_is_read_without_a_traceback(
    sim: Simulator, tmp_path: Path, document: object
) -> None:
    config = tmp_path / "config.yml"
    config.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    env: dict[str, str | None] = {
        "MENDIX_API_KEY": API_KEY,
        "MENDIX_VERSION": "not-a-version",
        "MENDIX_BASE_URL": sim.base_url,
    }
    code, output = invoke(sim, env, "--config", str(config))
    assert_refused(code, output)


@SETTINGS
@given(text=st.text(max_size=300))
def test_any_file_text_is_read_without_a_traceback(
    sim: Simulator, tmp_path: Path, text: str
) -> None:
    config = tmp_path / "config.yml"
    config.write_bytes(text.encode("utf-8", "surrogatepass"))
    env: dict[str, str | None] = {
        "MENDIX_API_KEY": API_KEY,
        "MENDIX_VERSION": "x",
        "MENDIX_BASE_URL": sim.base_url,
    }
    code, output = invoke(sim, env, "--config", str(config))
    assert_refused(code, output)


def test_deeply_nested_yaml_is_refused(sim: Simulator, tmp_path: Path) -> None:
    config = tmp_path / "config.yml"
    config.write_text("a: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    code, output = invoke(
        sim, {"MENDIX_API_KEY": API_KEY, "MENDIX_BASE_URL": sim.base_url}, "--config", str(config)
    )
    assert_refused(code, output)
