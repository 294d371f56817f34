"""Is a downloaded file a well-formed ZIP archive (what an .mda is)? Read from its ends only.

A file passes when:
- it starts with a ZIP local file header;
- an end-of-central-directory record (EOCD) lies in its last 64 KiB + 22 bytes, with its
  comment reaching exactly to the end of the file;
- when a Zip64 locator precedes the EOCD, the Zip64 end record it points to lies in the
  file and ends where the locator begins; its counts, sizes and offsets then apply;
- the archive is on one disk and lists at least one entry;
- the central directory starts inside the file with a central directory header and ends
  exactly where the end records begin.

It reads at most 64 KiB + 22 bytes from the tail and a few bytes elsewhere: entry data and
CRCs are not read, so the check never costs a second pass over the package.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

LOCAL_HEADER = b"PK\x03\x04"
CENTRAL_HEADER = b"PK\x01\x02"
_END = struct.Struct("<4sHHHHIIH")
_LOCATOR = struct.Struct("<4sIQI")
_END64 = struct.Struct("<4sQHHIIQQQQ")
_END_SIGNATURE = b"PK\x05\x06"
_LOCATOR_SIGNATURE = b"PK\x06\x07"
_END64_SIGNATURE = b"PK\x06\x06"
_MAX_COMMENT = 0xFFFF
_CENTRAL_HEADER_SIZE = 46


@dataclass(frozen=True)
class _Directory:
    """Where the end records say the central directory is, and where they begin."""

    disk: int
    directory_disk: int
    disk_entries: int
    entries: int
    size: int
    at: int
    ends_at: int  # offset of the first end record (Zip64 or plain)


def problem(file: BinaryIO, size: int) -> str | None:
    """What keeps the ``size`` bytes of ``file`` from being a ZIP archive; None if nothing."""
    if size < len(LOCAL_HEADER) + _END.size:
        return f"{size} bytes are too few for a ZIP archive"
    if _read(file, 0, len(LOCAL_HEADER)) != LOCAL_HEADER:
        return "it does not start with a ZIP local file header"
    directory = _end_records(file, size)
    if isinstance(directory, str):
        return directory
    return _directory_problem(file, directory)


def _end_records(file: BinaryIO, size: int) -> _Directory | str:
    """The directory the end records describe, or what is wrong with them."""
    tail_at = max(0, size - _END.size - _MAX_COMMENT)
    tail = _read(file, tail_at, size - tail_at)
    found = _find_end(tail)
    if found is None:
        return "no end-of-central-directory record at its end"
    (_, disk, directory_disk, disk_entries, entries, directory_size, directory_at, _) = (
        _END.unpack_from(tail, found)
    )
    ends_at = tail_at + found
    locator_at = ends_at - _LOCATOR.size
    if locator_at >= 0 and _read(file, locator_at, 4) == _LOCATOR_SIGNATURE:
        return _zip64_records(file, locator_at)
    return _Directory(
        disk, directory_disk, disk_entries, entries, directory_size, directory_at, ends_at
    )


def _zip64_records(file: BinaryIO, locator_at: int) -> _Directory | str:
    """The directory a Zip64 end record describes (its locator lies at ``locator_at``)."""
    _, end64_disk, end64_at, disks = _LOCATOR.unpack(_read(file, locator_at, _LOCATOR.size))
    if end64_disk != 0 or disks != 1:
        return "it spans several disks"
    if end64_at + _END64.size > locator_at:
        return "its Zip64 end record lies outside the file"
    (
        signature,
        record_size,
        _,
        _,
        disk,
        directory_disk,
        disk_entries,
        entries,
        directory_size,
        directory_at,
    ) = _END64.unpack(_read(file, end64_at, _END64.size))
    if signature != _END64_SIGNATURE or end64_at + 12 + record_size != locator_at:
        return "its Zip64 locator points to no Zip64 end record"
    return _Directory(
        disk, directory_disk, disk_entries, entries, directory_size, directory_at, end64_at
    )


def _directory_problem(file: BinaryIO, d: _Directory) -> str | None:
    if d.disk != 0 or d.directory_disk != 0 or d.disk_entries != d.entries:
        return "it spans several disks"
    if d.entries == 0:
        return "it holds no entries"
    if d.size < d.entries * _CENTRAL_HEADER_SIZE:
        return "its central directory is too small for its entries"
    if d.at + d.size != d.ends_at:
        return (
            f"its central directory (offset {d.at}, {d.size} bytes) does not "
            f"end where its end records begin (offset {d.ends_at})"
        )
    if _read(file, d.at, len(CENTRAL_HEADER)) != CENTRAL_HEADER:
        return f"no central directory header at offset {d.at}"
    return None


def _find_end(tail: bytes) -> int | None:
    """Offset in ``tail`` of the last EOCD whose comment ends exactly at the end."""
    at = tail.rfind(_END_SIGNATURE)
    while at >= 0:
        if at + _END.size <= len(tail):
            comment = int.from_bytes(tail[at + _END.size - 2 : at + _END.size], "little")
            if at + _END.size + comment == len(tail):
                return at
        at = tail.rfind(_END_SIGNATURE, 0, at)
    return None


def _read(file: BinaryIO, offset: int, length: int) -> bytes:
    file.seek(offset)
    return file.read(length)
