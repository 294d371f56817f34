"""`mendix-build` and `python -m ci_step`: the libraries are checked before any is imported."""

from __future__ import annotations

import sys
from typing import NoReturn


def main(args: list[str] | None = None) -> NoReturn:
    """The command line, once the environment holds every library at its floor; else a
    message naming the package and the version needed, exit 2."""
    from ci_step.dependencies import check
    from ci_step.errors import LibraryError
    from ci_step.inert import inert

    try:
        check()
    except LibraryError as error:
        lines = error.lines()
        sys.stderr.write("".join(inert(f"{line}\n") for line in [f"ERROR: {lines[0]}", *lines[1:]]))
        sys.exit(error.exit_code)
    from ci_step.cli import main as run

    run(args)


if __name__ == "__main__":
    main()
