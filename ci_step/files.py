"""Files the step writes: the way into the workspace, and the mode each file gets.

The workspace is checked when the inputs are read, but written minutes later, and other
processes of the job may change it meanwhile. So a file is written from a directory that
was opened from the workspace one component at a time without following a symlink
(``Folder``): what is written stays in that directory even if a path is swapped for a
symlink, and before the final rename both the file and the directory's path are checked
to be the ones the step opened; if not, nothing is renamed (``Changed``).

Temporary files (made 0600) are renamed into place; before that they get ``0666`` less
the umask, set on the open file, so later steps running as another user can read them
(a GitHub docker action runs as root, the job's other steps as the runner user).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_NEW_FILE = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def umask() -> int:
    """The process umask (reading it means setting it; it is put back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def plain_mode() -> int:
    """The mode ``open()`` gives a new file: 0666 less the umask (0644 under 022)."""
    return 0o666 & ~umask()


class Changed(Exception):
    """A directory or file the step writes was moved or replaced (by a symlink, say) while
    the step ran; the message names it within the root."""


class Folder:
    """A directory inside a trusted ``root``, reached from it one component at a time
    without following a symlink (missing ones are made), and held open."""

    def __init__(self, root: Path, directory: Path) -> None:
        self.root = root
        self.parts = directory.relative_to(root).parts
        self.fd = self._walk(make=True)

    def shown(self, name: str = "") -> str:
        """A path in this directory as a message names it: relative to the root."""
        return "/".join((*self.parts, name) if name else self.parts) or "."

    def _walk(self, make: bool) -> int:
        if make:
            os.makedirs(self.root, exist_ok=True)
        fd = os.open(self.root, _DIRECTORY)  # the root itself is trusted
        for depth, part in enumerate(self.parts):
            fd = self._enter(fd, part, make, "/".join(self.parts[: depth + 1]))
        return fd

    @staticmethod
    def _enter(fd: int, part: str, make: bool, shown: str) -> int:
        """The directory ``part`` of the one open as ``fd`` (closed), never through a symlink."""
        try:
            try:
                return os.open(part, _DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            except FileNotFoundError:
                if not make:
                    raise
            with contextlib.suppress(FileExistsError):  # made meanwhile: entered as any other
                os.mkdir(part, dir_fd=fd)
            return os.open(part, _DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR) and _is_symlink(part, fd):
                raise Changed(
                    f"{shown} in the workspace became a symlink after the inputs were "
                    "checked; the step follows no symlink it did not check"
                ) from None
            raise
        finally:
            os.close(fd)

    def create(self, prefix: str, suffix: str) -> tuple[int, str]:
        """A new file (mode 0600) under a free random name: its descriptor and name."""
        for _ in range(100):
            name = f"{prefix}{os.urandom(6).hex()}{suffix}"
            try:
                return os.open(name, _NEW_FILE, 0o600, dir_fd=self.fd), name
            except FileExistsError:
                continue
        raise FileExistsError(errno.EEXIST, "no free temporary name")

    def holds(self, fd: int, name: str) -> bool:
        """Is ``name`` here the very file open as ``fd`` (not a symlink, not another file)?"""
        try:
            there = os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        mine = os.fstat(fd)
        return (there.st_dev, there.st_ino) == (mine.st_dev, mine.st_ino)

    def put(self, fd: int, name: str, final: str) -> None:
        """Rename ``name`` (open as ``fd``) over ``final``, once the file and this
        directory's path are checked to be the ones the step opened."""
        if not self.holds(fd, name):
            raise Changed(f"{self.shown(name)} was moved or replaced while the step wrote it")
        self._check_path()
        os.replace(name, final, src_dir_fd=self.fd, dst_dir_fd=self.fd)

    def _check_path(self) -> None:
        moved = Changed(
            f"{self.shown()} in the workspace was moved or replaced while the step wrote into it"
        )
        try:
            fd = self._walk(make=False)
        except (Changed, OSError):
            raise moved from None
        try:
            now, opened = os.fstat(fd), os.fstat(self.fd)
        finally:
            os.close(fd)
        if (now.st_dev, now.st_ino) != (opened.st_dev, opened.st_ino):
            raise moved

    def close(self) -> None:
        os.close(self.fd)


def _is_symlink(name: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


class Replacement:
    """A new file to take ``target``'s place: written under a temporary name beside it
    (``file``, mode 0600) and renamed over it by ``commit``, with the mode of a plain new
    file. Leaving the ``with`` block without a commit removes it (if it is still there)."""

    def __init__(self, root: Path, target: Path, suffix: str) -> None:
        self.target = target
        self.folder = Folder(root, target.parent)
        try:
            fd, self.name = self.folder.create(f".{target.name}.", suffix)
        except BaseException:
            self.folder.close()
            raise
        self.file: BinaryIO = os.fdopen(fd, "w+b")
        self.committed = False

    def commit(self) -> None:
        self.file.flush()
        os.fchmod(self.file.fileno(), plain_mode())  # on the file: a path may lead elsewhere
        self.folder.put(self.file.fileno(), self.name, self.target.name)
        self.committed = True

    def __enter__(self) -> Replacement:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        try:
            with contextlib.suppress(OSError):  # the error that ended the block matters more
                if not self.committed and self.folder.holds(self.file.fileno(), self.name):
                    os.unlink(self.name, dir_fd=self.folder.fd)  # only the file the step made
        finally:
            self.file.close()
            self.folder.close()
