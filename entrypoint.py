#!/usr/bin/env python3
"""Container entrypoint for the mendix-build image.

- no arguments: run the build step from the environment (GitHub Actions);
- `mendix-build ...`, a subcommand or an option: run that;
- any other command (Jenkins starts the container with `cat`, GitLab with a
  shell when `entrypoint: [""]` is not set): execute it unchanged.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn

SUBCOMMANDS = frozenset(
    {
        "run",
        "start",
        "wait",
        "download",
        "show",
        "list",
        "delete",
        "prune",
        "deploy",
        "unit-tests",
        "pipeline-run",
        "simulate",
        "demo",
    }
)


def main(argv: list[str]) -> NoReturn:
    args = argv[1:]
    if args and args[0] in ("mendix-build", "mendix_build"):
        args = args[1:]
    elif args and args[0] not in SUBCOMMANDS and not args[0].startswith("-"):
        try:
            os.execvp(args[0], args)  # noqa: S606 - the container command, as given
        except OSError as exc:
            sys.stderr.write(f"mendix-build image: cannot run {args[0]!r}: {exc.strerror}\n")
            sys.exit(127)
    from ci_step.__main__ import main as run  # the libraries checked, then the command

    run(args)


if __name__ == "__main__":
    main(sys.argv)
