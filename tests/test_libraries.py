"""Every library the product imports is declared with the lowest version it is tested
with, and an environment holding an older one is told so before the step starts: the
package and the version needed, exit 2, no request sent, no traceback."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
import tomllib
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from ci_step.dependencies import FLOORS, check, release
from ci_step.errors import LibraryError
from ci_step.simulator import Simulator
from tests.conftest import ENTRYPOINT, ROOT, Run, base_env, inputs, mendix_env, run_entrypoint
from tests.test_lock import locked


def third_party_imports() -> set[str]:
    """The top-level names of what ``ci_step`` imports from outside the standard library."""
    names: set[str] = set()
    for path in (ROOT / "ci_step").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {name for name in names if name not in sys.stdlib_module_names} - {"ci_step"}


def test_every_library_the_product_imports_is_declared_at_its_floor() -> None:
    distributions = metadata.packages_distributions()
    imported = {distributions[name][0].lower() for name in third_party_imports()}
    assert imported == {name.lower() for name in FLOORS}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    declared = dict(requirement.split(">=") for requirement in project["dependencies"])
    assert {name.lower(): floor for name, floor in declared.items()} == {
        name.lower(): floor for name, floor in FLOORS.items()
    }


def test_the_image_lock_pins_each_library_at_or_above_its_floor() -> None:
    pins = locked()
    for name, floor in FLOORS.items():
        version, _ = pins[canonicalize_name(name)]
        assert release(version) >= release(floor), name


def versions(**changed: str | None) -> dict[str, str | None]:
    """Every library at its floor, but for ``changed`` (None: not installed)."""
    held: dict[str, str | None] = dict(FLOORS)
    held.update(changed)
    return held


def version_of(held: dict[str, str | None]) -> Callable[[str], str]:
    def version(name: str) -> str:
        value = held.get(name)
        if value is None:
            raise metadata.PackageNotFoundError(name)
        return value

    return version


@pytest.mark.parametrize(
    "held",
    [
        versions(),
        versions(urllib3="2.6", click="8.1.10", structlog="26.1.0", requests="2.31.0.post1"),
    ],
)
def test_libraries_at_or_above_their_floor_pass(held: dict[str, str | None]) -> None:
    check(version_of(held))


def test_an_old_or_missing_library_is_named_with_the_version_needed() -> None:
    held = versions(urllib3="1.26.20", structlog=None, click="8.1.3")
    with pytest.raises(LibraryError) as caught:
        check(version_of(held))
    error = caught.value
    assert error.exit_code == 2
    assert error.message == (
        "mendix-build cannot run with the libraries installed: "
        "click 8.1.3 is installed; mendix-build needs click 8.1.4 or newer; "
        "structlog is not installed; mendix-build needs structlog 22.1.0 or newer; "
        "urllib3 1.26.20 is installed; mendix-build needs urllib3 2.6.0 or newer."
    )
    assert "pip install 'click>=8.1.4' 'structlog>=22.1.0' 'urllib3>=2.6.0'" in error.fix


OLD_URLLIB3 = """
    import importlib.metadata as metadata

    installed = metadata.version

    def version(name):
        return "1.26.20" if name.lower() == "urllib3" else installed(name)

    metadata.version = version
"""


def with_old_urllib3(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """``env`` whose Python finds urllib3 1.26.20 installed (a sitecustomize says so)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(textwrap.dedent(OLD_URLLIB3), "utf-8")
    path = [str(site), *filter(None, [env.get("PYTHONPATH")])]
    return env | {"PYTHONPATH": os.pathsep.join(path)}


def assert_told(run: Run) -> None:
    assert run.code == 2, run.stderr
    assert "urllib3 1.26.20 is installed; mendix-build needs urllib3 2.6.0 or newer" in run.stderr
    assert "pip install 'urllib3>=2.6.0'" in run.stderr
    assert "Traceback" not in run.stderr


def test_urllib3_1_26_is_a_clear_message_before_any_request(
    sim: Simulator, workspace: Path, tmp_path: Path
) -> None:
    env = with_old_urllib3(base_env(workspace.parent) | mendix_env(inputs(sim)), tmp_path)
    assert_told(run_entrypoint(env, workspace))
    assert sim.requests() == []


@pytest.mark.parametrize(
    "command",
    [
        [str(Path(sys.executable).parent / "mendix-build"), "demo"],
        [sys.executable, "-m", "ci_step", "--tool-version"],
        [sys.executable, str(ENTRYPOINT), "list"],
    ],
)
def test_every_way_in_checks_the_libraries_first(
    command: list[str], workspace: Path, tmp_path: Path
) -> None:
    env = with_old_urllib3(base_env(workspace.parent), tmp_path)
    done = subprocess.run(
        command, env=env, cwd=workspace, capture_output=True, text=True, timeout=60, check=False
    )
    assert_told(Run(done.returncode, done.stdout, done.stderr, workspace))
