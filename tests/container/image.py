"""Build the project's Dockerfile with buildah (no Docker engine) and run the image.

- buildah and debootstrap come from apt-get when missing (root only);
- the base is the Dockerfile's default when it is in local storage, else a stand-in made
  with debootstrap (bookworm, minbase, python3, python3-venv, ca-certificates), kept in
  local storage between runs on the same machine;
- the host's pip configuration and CA bundle are mounted into the RUN steps, never copied.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BASE = "docker.io/library/python:3.12-slim-bookworm"
STANDIN = "localhost/mendix-build-standin:bookworm"
TAG = "localhost/mendix-build:smoke"
CACHE = Path("/var/cache/mendix-build-ci")
HOST_FILES = ("/etc/pip.conf", "/etc/ssl/certs/ca-certificates.crt")
MB = 1_000_000


class Unavailable(Exception):
    pass


def sh(*args: str, timeout: float = 600, **kwargs: object) -> str:
    done = subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )  # type: ignore[call-overload]
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args[:3])}… exited {done.returncode}:\n{done.stderr[-3000:]}"
        )
    return str(done.stdout)


def ensure_tools() -> None:
    if os.geteuid() != 0:
        raise Unavailable("the container smoke test needs root (buildah --isolation chroot)")
    missing = [tool for tool in ("buildah", "debootstrap") if shutil.which(tool) is None]
    if not missing:
        return
    if shutil.which("apt-get") is None:
        raise Unavailable(f"{', '.join(missing)} missing and no apt-get to install them")
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    try:
        sh("apt-get", "update", "-qq", env=env)
        sh("apt-get", "install", "-y", "-qq", "buildah", "debootstrap", env=env)
    except RuntimeError as exc:
        raise Unavailable(f"could not install {', '.join(missing)}: {exc}") from None


def image_exists(name: str) -> bool:
    done = subprocess.run(
        ["buildah", "inspect", "--type", "image", name],
        capture_output=True,
        check=False,
        timeout=60,
    )
    return done.returncode == 0


def make_standin() -> None:
    """A local bookworm image with python3 and venv, from Debian's own packages."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as work:
        rootfs = Path(work) / "rootfs"
        sh(
            "debootstrap",
            "--variant=minbase",
            "--include=python3,python3-venv,ca-certificates",
            "bookworm",
            str(rootfs),
            "http://deb.debian.org/debian",
            timeout=900,
        )
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            shutil.rmtree(rootfs / junk, ignore_errors=True)
        container = sh("buildah", "from", "scratch").strip()
        try:
            mount = sh("buildah", "mount", container).strip()
            sh("cp", "-a", f"{rootfs}/.", mount)
            sh("buildah", "umount", container)
            sh("buildah", "config", "--cmd", "/bin/bash", container)
            sh("buildah", "commit", "-q", container, STANDIN)
        finally:
            subprocess.run(["buildah", "rm", container], capture_output=True, check=False)


def base_image() -> str:
    if image_exists(DEFAULT_BASE):
        return DEFAULT_BASE
    if not image_exists(STANDIN):
        make_standin()
    return STANDIN


def layer_sizes(name: str) -> list[int]:
    data = json.loads(sh("buildah", "inspect", "--type", "image", name))
    manifest = json.loads(data["Manifest"])
    return [int(layer["size"]) for layer in manifest["layers"]]


def compressed_layer_sizes(name: str) -> list[int]:
    """The layers' sizes as a registry stores them: gzip-compressed, as `docker push` and
    the release workflow send them (pushed to an OCI layout in a temporary directory)."""
    with tempfile.TemporaryDirectory(prefix="mendix-build-oci-") as work:
        layout = Path(work) / "layout"
        sh("buildah", "push", "--quiet", "--compression-format", "gzip", name, f"oci:{layout}")
        index = json.loads((layout / "index.json").read_text("utf-8"))
        algorithm, digest = index["manifests"][0]["digest"].split(":", 1)
        manifest = json.loads((layout / "blobs" / algorithm / digest).read_text("utf-8"))
        return [int(layer["size"]) for layer in manifest["layers"]]


@dataclass(frozen=True)
class Image:
    tag: str
    base: str
    entrypoint: list[str]
    total_bytes: int
    added_bytes: int
    build_seconds: float
    compressed_bytes: int  # what a registry stores and a runner pulls
    compressed_added_bytes: int


def build() -> Image:
    ensure_tools()
    base = base_image()
    mounts: list[str] = []
    for path in HOST_FILES:
        if Path(path).is_file():
            mounts += ["-v", f"{path}:{path}:ro"]
    started = time.monotonic()
    sh(
        "buildah",
        "bud",
        "--isolation",
        "chroot",
        "--pull=never",
        "--build-arg",
        f"BASE_IMAGE={base}",
        *mounts,
        "-t",
        TAG,
        str(ROOT),
        timeout=900,
    )
    seconds = time.monotonic() - started
    config = json.loads(sh("buildah", "inspect", "--type", "image", TAG))["OCIv1"]["config"]
    ours, theirs = layer_sizes(TAG), layer_sizes(base)
    assert ours[: len(theirs)] == theirs, "the image does not start with the base's layers"
    compressed = compressed_layer_sizes(TAG)
    return Image(
        TAG,
        base,
        list(config["Entrypoint"]) + list(config.get("Cmd") or []),
        sum(ours),
        sum(ours[len(theirs) :]),
        seconds,
        sum(compressed),
        sum(compressed[len(theirs) :]),
    )


def container(image: Image) -> str:
    return sh("buildah", "from", "--pull=never", image.tag).strip()


def remove(name: str) -> None:
    subprocess.run(["buildah", "rm", name], capture_output=True, check=False, timeout=60)


def run_args(
    name: str,
    *,
    user: str,
    workdir: str,
    mounts: dict[str, str],
    env: dict[str, str],
    command: list[str],
) -> list[str]:
    args = ["buildah", "run", "--isolation", "chroot", "--user", user, "--workingdir", workdir]
    for host, inside in mounts.items():
        args += ["-v", f"{host}:{inside}"]
    for key, value in env.items():
        args.append(f"--env={key}={value}")
    return [*args, name, "--", *command]
