"""The release: .github/workflows/release.yml (what it builds, pushes, attests and
publishes, pinned actions, least permissions), .ci/release_pin.py (the release commit
names the released image) and every workflow file through zizmor and GitHub's own parser."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, check_jsonschema

RELEASE = ROOT / ".github" / "workflows" / "release.yml"
WORKFLOWS = [RELEASE, ROOT / "examples" / "github-workflow.yml"]
PIN = ROOT / ".ci" / "release_pin.py"
PARSER = ROOT / ".ci" / "parse-workflows.mjs"
PINNED = re.compile(r"([\w.-]+/[\w./-]+)@([0-9a-f]{40}) # (v\d+\.\d+\.\d+)")
OWN_ACTION = "your-org/mendix-build@v1 # zizmor: ignore[unpinned-uses]"


def release() -> dict[Any, Any]:
    document: dict[Any, Any] = yaml.safe_load(RELEASE.read_text("utf-8"))
    return document


def jobs() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = release()["jobs"]
    return found


def step(job: str, uses: str) -> dict[str, Any]:
    (found,) = [s for s in jobs()[job]["steps"] if str(s.get("uses", "")).startswith(uses + "@")]
    return dict(found)


def project_version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as project:
        version: str = tomllib.load(project)["project"]["version"]
    return version


def test_release_passes_the_workflow_schema() -> None:
    done = check_jsonschema("vendor.github-workflows", RELEASE)
    assert done.returncode == 0, done.stdout + done.stderr


def test_runs_on_version_tags_with_no_default_permissions() -> None:
    document = release()
    assert document[True] == {"push": {"tags": ["v*"]}}  # YAML 1.1 reads `on` as true
    assert document["permissions"] == {}
    for name, job in jobs().items():
        assert "permissions" in job, name
        assert "timeout-minutes" in job, name
    assert document["concurrency"]["cancel-in-progress"] is False


def test_nothing_is_published_before_the_tests_pass() -> None:
    test = jobs()["test"]
    runs = [s.get("run", "") for s in test["steps"]]
    assert 'python .ci/release_pin.py --check "$TAG"' in runs
    assert any("bash .ci/run" in run for run in runs)
    assert jobs()["image"]["needs"] == "test"
    assert jobs()["package"]["needs"] == "test"
    assert set(jobs()["pypi"]["needs"]) == {"package", "image"}
    assert set(jobs()["pin"]["needs"]) == {"image", "pypi"}


def test_image_is_multi_platform_tagged_attested_and_has_an_sbom() -> None:
    image = jobs()["image"]
    assert image["permissions"] == {
        "contents": "read",
        "packages": "write",
        "id-token": "write",
        "attestations": "write",
    }
    meta = step("image", "docker/metadata-action")["with"]
    assert meta["tags"].split() == [
        "type=semver,pattern={{version}}",
        "type=semver,pattern={{major}}",
    ]
    push = step("image", "docker/build-push-action")
    assert push["with"]["platforms"] == "linux/amd64,linux/arm64"
    assert push["with"]["push"] is True
    assert push["with"]["sbom"] is True
    assert push["with"]["tags"] == "${{ steps.meta.outputs.tags }}"
    attest = step("image", "actions/attest-build-provenance")["with"]
    assert attest["subject-digest"] == "${{ steps.push.outputs.digest }}"
    assert attest["push-to-registry"] is True
    assert image["outputs"]["digest"] == "${{ steps.push.outputs.digest }}"
    assert step("image", "docker/setup-qemu-action")
    assert step("image", "docker/login-action")["with"]["registry"] == "ghcr.io"


def test_pypi_through_trusted_publishing_only() -> None:
    pypi = jobs()["pypi"]
    assert pypi["permissions"] == {"id-token": "write"}
    assert pypi["environment"]["name"] == "pypi"
    publish = step("pypi", "pypa/gh-action-pypi-publish")
    assert "with" not in publish  # no password, no token: the OIDC exchange
    assert "secrets." not in RELEASE.read_text("utf-8").replace("secrets.GITHUB_TOKEN", "")
    build = [s.get("run", "") for s in jobs()["package"]["steps"]]
    assert any("python -m build" in run for run in build)


def test_the_pin_job_moves_the_tags_to_a_commit_naming_the_image() -> None:
    pin = jobs()["pin"]
    assert pin["permissions"] == {"contents": "write"}
    runs = [s for s in pin["steps"] if "run" in s]
    assert runs[0]["run"] == 'python .ci/release_pin.py "$TAG" "$IMAGE" --digest "$DIGEST"'
    assert runs[0]["env"]["IMAGE"] == "${{ needs.image.outputs.image }}"
    assert runs[0]["env"]["DIGEST"] == "${{ needs.image.outputs.digest }}"
    assert 'git tag -f "$TAG"' in runs[1]["run"]
    assert 'git tag -f "$major"' in runs[1]["run"]


def uses_lines(path: Path) -> list[str]:
    return [
        line.split("uses:", 1)[1].strip()
        for line in path.read_text("utf-8").splitlines()
        if line.strip().removeprefix("- ").startswith("uses:")
    ]


def test_actions_are_pinned_by_commit_and_the_same_everywhere() -> None:
    """A full commit with its release in a comment; an action used by several workflows is
    pinned to the same commit in each."""
    seen: dict[str, tuple[str, str]] = {}
    for path in WORKFLOWS:
        for uses in uses_lines(path):
            if uses == OWN_ACTION:
                continue
            match = PINNED.fullmatch(uses)
            assert match, f"{path.name}: {uses}"
            action, commit, release_name = match.groups()
            assert seen.setdefault(action, (commit, release_name)) == (commit, release_name)
    assert len(seen) >= 10


def test_checkouts_keep_no_token() -> None:
    for job in jobs().values():
        for entry in job["steps"]:
            if str(entry.get("uses", "")).startswith("actions/checkout@"):
                assert entry["with"]["persist-credentials"] is False


# ---------------------------------------------------------------------------------------
# .ci/release_pin.py


def pin(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(PIN), *args, "--root", str(root)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


PINNED_FILES = ("action.yml", "vars/mendixBuild.groovy", "templates/mendix-build/template.yml")


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    for name in (*PINNED_FILES, "pyproject.toml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def changed_lines(root: Path, name: str) -> list[tuple[str, str]]:
    before = (ROOT / name).read_text("utf-8").splitlines()
    after = (root / name).read_text("utf-8").splitlines()
    assert len(before) == len(after), name
    return [(old, new) for old, new in zip(before, after, strict=True) if old != new]


def test_pin_names_the_released_image_in_the_three_files(checkout: Path) -> None:
    version = project_version()
    done = pin(checkout, f"v{version}", "ghcr.io/Acme/mendix-build")
    assert done.returncode == 0, done.stderr
    image = f"ghcr.io/acme/mendix-build:{version}"  # GHCR names are lower case
    action = yaml.safe_load((checkout / "action.yml").read_text("utf-8"))
    assert action["runs"] == {"using": "docker", "image": f"docker://{image}"}
    assert changed_lines(checkout, "action.yml") == [
        ("  image: Dockerfile", f"  image: docker://{image}")
    ]
    assert changed_lines(checkout, "vars/mendixBuild.groovy") == [
        (
            "@Field final String DEFAULT_IMAGE = 'ghcr.io/your-org/mendix-build:1'",
            f"@Field final String DEFAULT_IMAGE = '{image}'",
        )
    ]
    assert changed_lines(checkout, "templates/mendix-build/template.yml") == [
        ("      default: ghcr.io/your-org/mendix-build", "      default: ghcr.io/acme/mendix-build")
    ]
    schema = check_jsonschema("vendor.github-actions", checkout / "action.yml")
    assert schema.returncode == 0, schema.stdout
    again = pin(checkout, f"v{version}", "ghcr.io/acme/mendix-build")
    assert again.returncode == 0, again.stderr  # the same release pinned twice: the same
    assert changed_lines(checkout, "action.yml") == [
        ("  image: Dockerfile", f"  image: docker://{image}")
    ]


def test_pin_with_a_digest_pulls_by_digest_in_the_action_and_the_library(checkout: Path) -> None:
    version, digest = project_version(), "sha256:" + "ab" * 32
    done = pin(checkout, f"v{version}", "ghcr.io/acme/mendix-build", "--digest", digest)
    assert done.returncode == 0, done.stderr
    pinned = f"ghcr.io/acme/mendix-build:{version}@{digest}"
    assert changed_lines(checkout, "action.yml") == [
        ("  image: Dockerfile", f"  image: docker://{pinned}")
    ]
    assert changed_lines(checkout, "vars/mendixBuild.groovy")[0][1] == (
        f"@Field final String DEFAULT_IMAGE = '{pinned}'"
    )
    # the component adds its version as the tag itself: no digest can follow it there
    assert changed_lines(checkout, "templates/mendix-build/template.yml")[0][1] == (
        "      default: ghcr.io/acme/mendix-build"
    )
    bad = pin(checkout, f"v{version}", "ghcr.io/acme/mendix-build", "--digest", "sha256:x")
    assert bad.returncode == 1
    assert "'sha256:x' is not an image digest" in bad.stderr


def test_pin_refuses_a_tag_that_is_not_the_projects_version(checkout: Path) -> None:
    done = pin(checkout, "v99.0.0", "ghcr.io/acme/mendix-build")
    assert done.returncode == 1
    assert f"tag v99.0.0 is version 99.0.0, pyproject.toml says {project_version()}" in (
        done.stderr
    )
    for name in PINNED_FILES:
        assert changed_lines(checkout, name) == [], name
    assert pin(checkout, "--check", "v99.0.0").returncode == 1
    assert pin(checkout, "--check", f"v{project_version()}").returncode == 0
    bad = pin(checkout, "--check", "1.2")
    assert bad.returncode == 1
    assert "'1.2' is not a release version (v1.2.3)" in bad.stderr


def test_pin_writes_nothing_unless_every_file_has_its_line(checkout: Path) -> None:
    library = checkout / "vars" / "mendixBuild.groovy"
    library.write_text(library.read_text("utf-8").replace("DEFAULT_IMAGE = ", "IMAGE = "))
    done = pin(checkout, f"v{project_version()}", "ghcr.io/acme/mendix-build")
    assert done.returncode == 1
    assert "vars/mendixBuild.groovy: 0 lines to pin, expected 1" in done.stderr
    assert changed_lines(checkout, "action.yml") == []


def test_the_checkout_builds_the_dockerfile() -> None:
    """Between releases, CI (and a workflow using a branch) builds what it tests."""
    action = yaml.safe_load((ROOT / "action.yml").read_text("utf-8"))
    assert action["runs"] == {"using": "docker", "image": "Dockerfile"}


# ---------------------------------------------------------------------------------------
# zizmor and GitHub's workflow parser


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_zizmor_finds_nothing(path: Path) -> None:
    # zizmor is in the [test] extra: missing, this fails rather than skips
    done = subprocess.run(
        ["zizmor", "--offline", "--no-progress", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def parse(node_tools: Path, *paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(node_tools / "node"), str(PARSER), str(node_tools.parents[1]), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_githubs_parser_accepts_every_workflow(node_tools: Path) -> None:
    done = parse(node_tools, *WORKFLOWS)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(": ok") == len(WORKFLOWS)


def test_githubs_parser_check_rejects_a_broken_workflow(node_tools: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    text = RELEASE.read_text("utf-8").replace("needs: test\n", "needs: tests\n", 1)
    broken.write_text(text, "utf-8")
    done = parse(node_tools, broken)
    assert done.returncode == 1
    assert "tests" in done.stderr
