"""The ZIP check that stands between a download and its final name."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import pytest

from ci_step.mendix import zipcheck
from ci_step.simulator import content


def archive(*, zip64: bool = False, comment: bytes = b"", entries: int = 2) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as made:
        for index in range(entries):
            with made.open(f"model/part{index}.xml", "w", force_zip64=zip64) as entry:
                entry.write(b"<part/>" * 1000)
        made.comment = comment
    return buffer.getvalue()


def problem(data: bytes) -> str | None:
    return zipcheck.problem(io.BytesIO(data), len(data))


def test_zip_made_by_pythons_zipfile_passes() -> None:
    assert problem(archive()) is None
    assert problem(archive(comment=b"PK\x05\x06 a comment that looks like an end record")) is None


def test_zip64_archive_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    # zipfile writes the Zip64 end records past 65535 entries; lower that bar for the test.
    monkeypatch.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 1)
    data = archive(zip64=True)
    assert b"PK\x06\x06" in data[-200:]
    assert b"PK\x06\x07" in data[-200:]
    assert zipfile.ZipFile(io.BytesIO(data)).testzip() is None
    assert problem(data) is None


def zip64_parts(data: bytes) -> tuple[int, int]:
    """(offset of the Zip64 end record, offset of its locator) in ``data``."""
    locator = data.rindex(b"PK\x06\x07")
    return struct.unpack_from("<Q", data, locator + 8)[0], locator


def test_garbled_zip64_records_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 1)
    data = archive(zip64=True)
    record, locator = zip64_parts(data)
    outside = data[: locator + 8] + struct.pack("<Q", len(data)) + data[locator + 16 :]
    assert problem(outside) == "its Zip64 end record lies outside the file"
    unsigned = data[:record] + b"XX\x06\x06" + data[record + 4 :]
    assert problem(unsigned) == "its Zip64 locator points to no Zip64 end record"
    offset_at = record + 48
    moved = struct.unpack_from("<Q", data, offset_at)[0] + 1
    shifted = data[:offset_at] + struct.pack("<Q", moved) + data[offset_at + 8 :]
    assert "does not end where its end records begin" in (problem(shifted) or "")


def test_the_simulators_zip64_package_passes(tmp_path: Path) -> None:
    """Past 4 GiB the simulator writes Zip64 records; checked on a sparse file."""
    size = (1 << 32) + 4096
    path = tmp_path / "big.mda"
    with path.open("wb") as out:
        for chunk in content.stream("seed", size, 0, 4096):
            out.write(chunk)
        out.seek(size - 70_000)
        for chunk in content.stream("seed", size, size - 70_000, size):
            out.write(chunk)
    with path.open("rb") as read:
        assert zipcheck.problem(read, size) is None
    (entry,) = zipfile.ZipFile(path).infolist()
    assert (
        entry.file_size == entry.compress_size == size - content.MIN_SIZE - 116
    )  # Zip64 extras and records
    assert entry.header_offset == 0


@pytest.mark.parametrize("size", [content.MIN_SIZE, 50_000, 200_000, (1 << 20) + 7])
def test_the_simulators_packages_are_zip_archives(size: int) -> None:
    data = content.whole("calc/p", size)
    assert len(data) == size
    assert zipfile.ZipFile(io.BytesIO(data)).testzip() is None
    assert problem(data) is None


@pytest.mark.parametrize("cut", [1, 10, 22, 23, 100, 5_000])
def test_truncated_zip_fails(cut: int) -> None:
    data = archive()
    assert problem(data[:-cut]) is not None
    assert problem(data[cut:]) is not None


def test_garbled_zip_fails() -> None:
    data = archive()
    end = data.rindex(b"PK\x05\x06")
    assert problem(data + b"\n") == "no end-of-central-directory record at its end"
    assert problem(b"PK\x03\x04" + b"\0" * 100) == "no end-of-central-directory record at its end"
    moved = data[: end + 16] + struct.pack("<I", 0) + data[end + 20 :]
    assert "does not end where its end records begin" in (problem(moved) or "")
    directory = end - struct.unpack_from("<I", data, end + 12)[0]
    unsigned = data[:directory] + b"XX\x01\x02" + data[directory + 4 :]
    assert problem(unsigned) == f"no central directory header at offset {directory}"
    split = data[: end + 4] + struct.pack("<H", 1) + data[end + 6 :]
    assert problem(split) == "it spans several disks"
    assert problem(archive(entries=0)) is not None


def test_error_page_of_any_length_fails() -> None:
    for size in (30, 1_000, 200_000):
        page = b"".join(content.error_page(size))
        assert len(page) == size
        assert problem(page) == "it does not start with a ZIP local file header"
    assert problem(b"") == "0 bytes are too few for a ZIP archive"


def test_only_the_ends_are_read() -> None:
    class Counting(io.BytesIO):
        read_bytes = 0

        def read(self, size: int | None = -1, /) -> bytes:
            data = super().read(size)
            Counting.read_bytes += len(data)
            return data

    data = content.whole("calc/p", 4 << 20)
    assert zipcheck.problem(Counting(data), len(data)) is None
    assert Counting.read_bytes <= 65_557 + 100
