"""File modes: every file the step writes gets the mode a plain new file would get.

Temporary files (made 0600 by ``tempfile``) are renamed into place; before that they
get ``0666`` less the umask, so later steps running as another user can read them
(a GitHub docker action runs as root, the job's other steps as the runner user).
"""

from __future__ import annotations

import os


def umask() -> int:
    """The process umask (reading it means setting it; it is put back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def plain_mode() -> int:
    """The mode ``open()`` gives a new file: 0666 less the umask (0644 under 022)."""
    return 0o666 & ~umask()
