"""The image under each CI's container contract, against the simulator on loopback.

1. GitHub: root, workdir /github/workspace, INPUT_* (hyphenated), file commands mounted.
2. Jenkins docker.image().inside: a non-root uid:gid, HOME not writable, the container
   kept alive with `cat` while `mendix-build` runs beside it with MENDIX_* variables.
3. GitLab with entrypoint [""]: a shell runs `mendix-build` from PATH.
4. Azure Pipelines container job: the image's entrypoint given the agent's start command,
   a user with the agent's uid added as root, the workspace and the agent's temp directory
   mounted, `mendix-build` run as that user with TF_BUILD=True and MENDIX_* variables.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ci_step import __version__
from ci_step.config.inputs import INPUTS
from ci_step.report.result import OUTPUT_NAMES
from ci_step.simulator import BuildService, Simulator
from ci_step.workflow_commands import escape_azure
from tests import ci_formats
from tests.conftest import API_KEY, inputs, mendix_env
from tests.container import image as img
from tests.container.conftest import REPORT

pytestmark = pytest.mark.container
ADDED_BUDGET = 40 * img.MB


@pytest.fixture(scope="module")
def image() -> Iterator[img.Image]:
    try:
        built = img.build()
    except img.Unavailable as exc:
        pytest.skip(str(exc))
    REPORT.append(
        f"image {built.tag} on {built.base}: {built.total_bytes / img.MB:.1f} MB in all, "
        f"{built.added_bytes / img.MB:.1f} MB added on the base (budget 40 MB); "
        f"compressed {built.compressed_bytes / img.MB:.1f} MB, "
        f"{built.compressed_added_bytes / img.MB:.1f} MB added; "
        f"built in {built.build_seconds:.0f} s"
    )
    yield built
    subprocess.run(["buildah", "rmi", "--prune"], capture_output=True, check=False, timeout=300)


@pytest.fixture
def shared() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="mendix-build-container-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def box(image: img.Image) -> Iterator[str]:
    name = img.container(image)
    yield name
    img.remove(name)


def exact_package(service: BuildService, path: Path) -> str:
    (package,) = service.apps["calc"].packages
    data = path.read_bytes()
    assert len(data) == package.size
    digest = hashlib.sha256(data).hexdigest()
    from ci_step.simulator import content

    assert digest == content.sha256(package.seed, package.size)
    return digest


def test_layers_added_stay_within_budget(image: img.Image) -> None:
    assert image.added_bytes < ADDED_BUDGET
    assert image.entrypoint == ["/opt/mendix-build/bin/python", "/opt/mendix-build/entrypoint.py"]


def test_image_holds_exactly_the_locked_dependencies(image: img.Image, box: str) -> None:
    """The runtime venv has the versions of requirements.lock (installed with their hashes)
    and the step itself, nothing else."""
    from tests.test_lock import locked

    listing = (
        "import json, importlib.metadata as m; "
        "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
    )
    done = subprocess.run(
        img.run_args(
            box,
            user="0:0",
            workdir="/",
            mounts={},
            env={},
            command=["/opt/mendix-build/bin/python", "-c", listing],
        ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    installed = {
        name.lower().replace("_", "-"): version for name, version in json.loads(done.stdout).items()
    }
    expected = {name: version for name, (version, _) in locked().items()}
    assert installed.pop("mendix-build") == __version__
    assert installed == expected


def test_no_host_configuration_is_baked_in(image: img.Image, box: str) -> None:
    mount = img.sh("buildah", "mount", box).strip()
    try:
        pip_conf = Path(mount) / "etc/pip.conf"
        assert not pip_conf.exists() or pip_conf.stat().st_size == 0  # at most a mount point
        assert not (Path(mount) / "opt/mendix-build/bin/pip").exists()
    finally:
        img.sh("buildah", "umount", box)


def github_action_args(box: str, image: img.Image, sim: Simulator, shared: Path) -> list[str]:
    """`buildah run` as GitHub runs a docker action: root, the workspace and the
    file-command directory mounted, every input as INPUT_*."""
    workspace, commands = shared / "workspace", shared / "file_commands"
    workspace.mkdir()
    commands.mkdir()
    values = inputs(sim)
    env = {f"INPUT_{spec.name.upper()}": values.get(spec.name, "") for spec in INPUTS}
    env |= {
        "GITHUB_ACTIONS": "true",
        "CI": "true",
        "GITHUB_WORKSPACE": "/github/workspace",
        "GITHUB_OUTPUT": "/github/file_commands/set_output",
        "GITHUB_STEP_SUMMARY": "/github/file_commands/step_summary",
        "GITHUB_REPOSITORY": "acme/calc",
        "GITHUB_RUN_ID": "1",
        "HOME": "/github/home",
    }
    return img.run_args(
        box,
        user="0:0",
        workdir="/github/workspace",
        mounts={str(workspace): "/github/workspace", str(commands): "/github/file_commands"},
        env=env,
        command=image.entrypoint,
    )


def test_github_docker_action(
    image: img.Image, box: str, sim: Simulator, service: BuildService, shared: Path
) -> None:
    args = github_action_args(box, image, sim, shared)
    workspace, commands = shared / "workspace", shared / "file_commands"
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[0] == f"::add-mask::{API_KEY}"  # commands go to stderr
    assert "::" not in done.stdout
    outputs = ci_formats.github_file_command((commands / "set_output").read_text("utf-8"))
    assert list(outputs) == list(OUTPUT_NAMES)
    assert outputs["result"] == "success"
    assert outputs["artifact-path"] == "calc-1.2.3.mda"
    assert outputs["artifact-sha256"] == exact_package(service, workspace / "calc-1.2.3.mda")
    assert "Mendix build: success" in (commands / "step_summary").read_text("utf-8")


def test_first_api_request_soon_after_the_container_starts(
    image: img.Image, sim: Simulator, shared: Path
) -> None:
    """What `docker run` costs a pipeline before any work: the container created and
    started, Python and the step loaded, the inputs checked, the first request sent.
    Measured and reported, not held to a bound: on a shared machine a wall-clock limit
    fails on the load of the moment, not on the image."""
    started = time.monotonic()
    name = img.container(image)
    try:
        args = github_action_args(name, image, sim, shared)
        done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    finally:
        img.remove(name)
    assert done.returncode == 0, done.stderr
    seconds = min(request.at for request in sim.requests()) - started
    assert seconds > 0
    REPORT.append(f"first API request {seconds:.2f} s after the container was created")


JENKINS_UID = "1000:1000"


def test_jenkins_docker_inside(
    image: img.Image, box: str, sim: Simulator, service: BuildService, shared: Path
) -> None:
    workspace = shared / "ws"
    workspace.mkdir()
    img.sh("chown", JENKINS_UID, str(workspace))
    mounts = {str(workspace): str(workspace)}
    keeper = subprocess.Popen(
        img.run_args(
            box,
            user=JENKINS_UID,
            workdir=str(workspace),
            mounts=mounts,
            env={"HOME": "/nonexistent"},
            command=[*image.entrypoint, "cat"],
        ),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        env = mendix_env(inputs(sim)) | {
            # no JENKINS_URL: Jenkins without a root URL configured
            "WORKSPACE": str(workspace),
            "JOB_NAME": "calc",
            "BUILD_NUMBER": "7",
            "BUILD_TAG": "jenkins-calc-7",
            "HOME": "/nonexistent",
        }
        step = subprocess.run(
            img.run_args(
                box,
                user=JENKINS_UID,
                workdir=str(workspace),
                mounts=mounts,
                env=env,
                command=["mendix-build"],
            ),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert keeper.poll() is None, "cat should still be keeping the container alive"
    finally:
        _out, _ = keeper.communicate(input="", timeout=60)
    assert step.returncode == 0, step.stderr
    assert keeper.returncode == 0
    properties = ci_formats.java_properties(
        (workspace / "mendix-build.properties").read_text("utf-8")
    )
    document = json.loads((workspace / "mendix-build.json").read_text("utf-8"))
    assert properties["MENDIX_RESULT"] == document["result"] == "success"
    mda = workspace / "calc-1.2.3.mda"
    assert mda.stat().st_uid == 1000
    assert properties["MENDIX_ARTIFACT_SHA256"] == exact_package(service, mda)


@pytest.mark.parametrize("entrypoint", ["empty", "image"])
def test_gitlab_job(
    entrypoint: str,
    image: img.Image,
    box: str,
    sim: Simulator,
    service: BuildService,
    shared: Path,
) -> None:
    # empty: `entrypoint: [""]`, the shell runs the script. image: no override, the image's
    # entrypoint is given GitLab's shell command and the script arrives on stdin.
    project = shared / "project"
    project.mkdir()
    env = mendix_env(inputs(sim)) | {
        "GITLAB_CI": "true",
        "CI": "true",
        "CI_PROJECT_DIR": "/builds/acme/calc",
        "CI_PIPELINE_ID": "99",
        "CI_PIPELINE_URL": "https://gitlab.example.com/p/99",
    }
    command, script = ["/bin/sh", "-c", "mendix-build"], ""
    if entrypoint == "image":
        command, script = [*image.entrypoint, "sh", "-s"], "set -e\nmendix-build\n"
    done = subprocess.run(
        img.run_args(
            box,
            user="0:0",
            workdir="/builds/acme/calc",
            mounts={str(project): "/builds/acme/calc"},
            env=env,
            command=command,
        ),
        input=script,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    variables = ci_formats.gitlab_dotenv((project / "mendix-build.env").read_bytes())
    assert variables["MENDIX_RESULT"] == "success"
    assert variables["MENDIX_ARTIFACT_PATH"] == "calc-1.2.3.mda"
    assert variables["MENDIX_ARTIFACT_SHA256"] == exact_package(service, project / "calc-1.2.3.mda")
    assert API_KEY not in done.stdout + done.stderr


AZURE_UID = "1001"


def test_azure_container_job(
    image: img.Image, box: str, sim: Simulator, service: BuildService, shared: Path
) -> None:
    """As the agent runs a container job: `docker create` with the image's entrypoint and
    the command `bash -c "sleep infinity"` (no --entrypoint), a user with the agent's uid
    added as root (useradd, groupadd, usermod, su), then each step exec'd as that user with
    the job's variables."""
    sources, temp = shared / "s", shared / "_temp"
    for path in (sources, temp):
        path.mkdir()
        img.sh("chown", f"{AZURE_UID}:{AZURE_UID}", str(path))
    mounts = {str(sources): "/__w/1/s", str(temp): "/__w/_temp"}
    keeper = subprocess.Popen(
        img.run_args(
            box,
            user="0:0",
            workdir="/",
            mounts=mounts,
            env={},
            command=[*image.entrypoint, "bash", "-c", "read -r _"],
        ),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for command in (
            ["useradd", "-m", "-u", AZURE_UID, "vsts_azpcontainer"],
            ["groupadd", "azure_pipelines_sudo"],
            ["usermod", "-a", "-G", "azure_pipelines_sudo", "vsts_azpcontainer"],
            ["su", "-c", "echo '%azure_pipelines_sudo ALL=(ALL:ALL) NOPASSWD:ALL' >> /etc/sudoers"],
        ):
            img.sh(*img.run_args(box, user="0:0", workdir="/", mounts={}, env={}, command=command))
        env = mendix_env(inputs(sim)) | {
            "TF_BUILD": "True",
            "AGENT_CONTAINERID": box,
            "AGENT_TEMPDIRECTORY": "/__w/_temp",
            "BUILD_SOURCESDIRECTORY": "/__w/1/s",
            "SYSTEM_DEFAULTWORKINGDIRECTORY": "/__w/1/s",
            "HOME": "/home/vsts_azpcontainer",
        }
        step = subprocess.run(
            img.run_args(
                box,
                user=f"{AZURE_UID}:{AZURE_UID}",
                workdir="/__w/1/s",
                mounts=mounts,
                env=env,
                command=["bash", "-c", "mendix-build"],
            ),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert keeper.poll() is None, "the agent's start command should keep the container up"
    finally:
        keeper.communicate(input="\n", timeout=60)
    assert step.returncode == 0, step.stderr
    assert keeper.returncode == 0
    assert step.stderr.splitlines()[0] == f"##vso[task.setsecret]{escape_azure(API_KEY)}"
    commands = ci_formats.azure_commands(step.stderr)
    variables = ci_formats.azure_output_variables(commands)
    assert list(variables) == list(OUTPUT_NAMES)
    assert variables["result"] == "success"
    assert variables["artifact-path"] == "calc-1.2.3.mda"
    mda = sources / "calc-1.2.3.mda"
    assert mda.stat().st_uid == int(AZURE_UID)
    assert variables["artifact-sha256"] == exact_package(service, mda)
    (upload,) = [c for c in commands if c.name == "task.uploadsummary"]
    inside = Path(upload.data)
    assert inside.is_relative_to("/__w/_temp")
    summary = temp / inside.relative_to("/__w/_temp")  # the agent maps the path back
    assert "Mendix build: success" in summary.read_text("utf-8")
