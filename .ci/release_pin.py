"""Make a release commit name the image released with it.

    python .ci/release_pin.py --check v1.2.3
    python .ci/release_pin.py v1.2.3 ghcr.io/acme/mendix-build [--digest sha256:…] [--root DIR]

--check: exit 1 unless the tag's version is pyproject.toml's (the image, the PyPI package
and the library would otherwise disagree).

Otherwise it rewrites, in DIR (default: the checkout):
- action.yml: `runs.image: Dockerfile` -> `docker://<image>:<version>`, so `uses:
  owner/mendix-build@v1.2.3` pulls the published image instead of building the Dockerfile;
- vars/mendixBuild.groovy: the library's default image -> `<image>:<version>`;
- templates/mendix-build/template.yml: the component's `image` default -> `<image>` (its
  tag is the component's version already, added by the job: no digest can follow it).
With --digest, action.yml and the library name `<image>:<version>@<digest>`: the tag for a
person, the digest for the pull (a tag moved later pulls nothing else).

Each file must hold its line exactly once; anything else is an error (exit 1) and nothing
is written. The checkout itself keeps `image: Dockerfile`: CI tests what it builds.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

VERSION = re.compile(r"v?(\d+\.\d+\.\d+)")
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
IMAGE = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)+")


@dataclass(frozen=True)
class Edit:
    path: str
    pattern: re.Pattern[str]
    replacement: str


def edits(version: str, image: str, digest: str = "") -> list[Edit]:
    pinned = f"{image}:{version}" + (f"@{digest}" if digest else "")
    return [
        Edit(
            "action.yml",
            re.compile(r"^(runs:\n  using: docker\n  image: ).*$", re.MULTILINE),
            rf"\g<1>docker://{pinned}",
        ),
        Edit(
            "vars/mendixBuild.groovy",
            re.compile(r"^(@Field final String DEFAULT_IMAGE = )'[^']*'$", re.MULTILINE),
            rf"\g<1>'{pinned}'",
        ),
        Edit(
            "templates/mendix-build/template.yml",
            re.compile(r"^(    image:\n      type: string\n      default: ).*$", re.MULTILINE),
            rf"\g<1>{image}",
        ),
    ]


def project_version(root: Path) -> str:
    with (root / "pyproject.toml").open("rb") as project:
        version: str = tomllib.load(project)["project"]["version"]
    return version


def parse_version(tag: str) -> str:
    match = VERSION.fullmatch(tag)
    if match is None:
        raise SystemExit(f"release_pin: {tag!r} is not a release version (v1.2.3)")
    return match.group(1)


def check(tag: str, root: Path) -> int:
    version = parse_version(tag)
    declared = project_version(root)
    if version != declared:
        print(
            f"release_pin: tag {tag} is version {version}, pyproject.toml says {declared}: "
            "set the project's version and tag that commit",
            file=sys.stderr,
        )
        return 1
    print(f"release_pin: {tag} is pyproject.toml's version {declared}")
    return 0


def pin(tag: str, image: str, root: Path, digest: str = "") -> int:
    version = parse_version(tag)
    image = image.lower()
    if not IMAGE.fullmatch(image):
        raise SystemExit(f"release_pin: {image!r} is not an image name (ghcr.io/owner/name)")
    if digest and not DIGEST.fullmatch(digest):
        raise SystemExit(f"release_pin: {digest!r} is not an image digest (sha256:<64 hex>)")
    if check(tag, root) != 0:
        return 1
    rewritten: dict[Path, str] = {}
    for edit in edits(version, image, digest):
        path = root / edit.path
        text, count = edit.pattern.subn(edit.replacement, path.read_text("utf-8"))
        if count != 1:
            print(f"release_pin: {edit.path}: {count} lines to pin, expected 1", file=sys.stderr)
            return 1
        rewritten[path] = text
    for path, text in rewritten.items():
        path.write_text(text, "utf-8")
        print(f"release_pin: {path.relative_to(root)} pinned to {image}:{version} {digest}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tag", help="the release tag, v1.2.3")
    parser.add_argument("image", nargs="?", help="the image's repository, ghcr.io/owner/name")
    parser.add_argument("--digest", default="", help="the pushed image's digest, sha256:…")
    parser.add_argument("--check", action="store_true", help="only compare with pyproject.toml")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args(argv)
    if args.check:
        return check(args.tag, args.root)
    if not args.image:
        parser.error("the image's repository is needed (or --check)")
    return pin(args.tag, args.image, args.root, args.digest)


if __name__ == "__main__":
    sys.exit(main())
