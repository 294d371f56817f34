"""Deterministic package bytes: a real ZIP archive of any size, streamed, never held whole.

A package is a ZIP archive with one stored (uncompressed) entry of filler bytes, sized so
that the archive is exactly the size asked for; past 4 GiB it carries Zip64 records. The
filler is one 64 KiB block repeated, served as zero-copy views into that block, and its
CRC-32 is combined from the block's in a few steps instead of reading every byte.
"""

from __future__ import annotations

import functools
import hashlib
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

BLOCK = 1 << 16
PIECE = 1 << 20
ENTRY = b"package.bin"
_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_END = struct.Struct("<IHHHHIIH")
_END64 = struct.Struct("<IQHHIIQQQQ")
_LOCATOR = struct.Struct("<IIQI")
_EXTRA64 = struct.Struct("<HHQQ")  # Zip64 extra field: sizes (uncompressed, compressed)
_LIMIT = 0xFFFFFFFF
_DOS_DATE = ((2026 - 1980) << 9) | (1 << 5) | 1  # 2026-01-01, 00:00
MIN_SIZE = _LOCAL.size + _CENTRAL.size + _END.size + 2 * len(ENTRY)


def block_for(seed: str) -> bytes:
    return hashlib.shake_256(seed.encode("utf-8")).digest(BLOCK)


@dataclass(frozen=True)
class Layout:
    """The archive: ``head`` (local header), ``filler`` bytes, ``tail`` (directory, ends)."""

    head: bytes
    filler: int
    tail: bytes


@functools.lru_cache(maxsize=64)
def layout(seed: str, size: int) -> Layout:
    if size < MIN_SIZE:
        raise ValueError(f"a package (a ZIP archive) needs at least {MIN_SIZE} bytes")
    name = len(ENTRY)
    filler = size - MIN_SIZE
    zip64 = filler >= _LIMIT or _LOCAL.size + name + filler >= _LIMIT
    if zip64:
        filler -= 2 * _EXTRA64.size + _END64.size + _LOCATOR.size
    crc = _repeated_crc(block_for(seed), filler)
    version = 45 if zip64 else 20
    stored = _LIMIT if zip64 else filler
    extra = _EXTRA64.pack(1, 16, filler, filler) if zip64 else b""
    head = (
        _LOCAL.pack(0x04034B50, version, 0, 0, 0, _DOS_DATE, crc, stored, stored, name, len(extra))
        + ENTRY
        + extra
    )
    directory_at = len(head) + filler
    fields = (version, version, 0, 0, 0, _DOS_DATE, crc, stored, stored, name, len(extra))
    directory = _CENTRAL.pack(0x02014B50, *fields, 0, 0, 0, 0, 0) + ENTRY + extra
    ends = b""
    if zip64:
        ends = _END64.pack(
            0x06064B50, _END64.size - 12, 45, 45, 0, 0, 1, 1, len(directory), directory_at
        ) + _LOCATOR.pack(0x07064B50, 0, directory_at + len(directory), 1)
    ends += _END.pack(0x06054B50, 0, 0, 1, 1, len(directory), _LIMIT if zip64 else directory_at, 0)
    return Layout(head, filler, directory + ends)


def stream(
    seed: str, size: int, start: int = 0, end: int | None = None, piece: int = PIECE
) -> Iterator[bytes | memoryview]:
    """Bytes [start, end) of the ``size``-byte package whose content derives from ``seed``.

    The filler goes out as zero-copy views of up to ``piece`` bytes into one repeated block.
    """
    shape = layout(seed, size)
    end = size if end is None else min(end, size)
    filler_at, tail_at = len(shape.head), len(shape.head) + shape.filler
    if start < filler_at:
        yield shape.head[start : min(end, filler_at)]
    repeated = memoryview(block_for(seed) * (piece // BLOCK + 1))
    position = max(start, filler_at)
    while position < min(end, tail_at):
        offset = (position - filler_at) % BLOCK
        length = min(piece, min(end, tail_at) - position)
        yield repeated[offset : offset + length]
        position += length
    if end > tail_at:
        yield shape.tail[max(start, tail_at) - tail_at : end - tail_at]


def whole(seed: str, size: int) -> bytes:
    return b"".join(bytes(view) for view in stream(seed, size))


def sha256(seed: str, size: int) -> str:
    digest = hashlib.sha256()
    for chunk in stream(seed, size):
        digest.update(chunk)
    return digest.hexdigest()


def error_page(size: int, start: int = 0, end: int | None = None) -> Iterator[bytes]:
    """Bytes [start, end) of an S3-style XML error page padded with spaces to ``size``."""
    page = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code>'
        b"<Message>We encountered an internal error. Please try again.</Message></Error>\n"
    )
    end = size if end is None else min(end, size)
    position = start
    while position < end:
        if position < len(page):
            chunk = page[position : min(end, len(page))]
        else:
            chunk = b" " * min(PIECE, end - position)
        yield chunk
        position += len(chunk)


# CRC-32 of a repeated block, combined as zlib's crc32_combine does (GF(2) polynomials).
_POLY = 0xEDB88320


def _multiply(a: int, b: int) -> int:
    """a * b modulo the CRC polynomial (bit-reflected)."""
    product, bit = 0, 1 << 31
    while True:
        if a & bit:
            product ^= b
            if a & (bit - 1) == 0:
                return product
        bit >>= 1
        b = (b >> 1) ^ _POLY if b & 1 else b >> 1


def _powers() -> list[int]:
    table, p = [], 1 << 30  # x^1
    for _ in range(32):
        table.append(p)
        p = _multiply(p, p)
    return table


_X2N = _powers()  # x^(2^n) modulo the polynomial


def _shift(length: int) -> int:
    """x^(8 * length) modulo the polynomial: appending ``length`` bytes."""
    p, k = 1 << 31, 3
    while length:
        if length & 1:
            p = _multiply(_X2N[k & 31], p)
        length >>= 1
        k += 1
    return p


def crc_combine(first: int, second: int, second_length: int) -> int:
    """CRC-32 of A+B from CRC-32(A), CRC-32(B) and len(B)."""
    return _multiply(_shift(second_length), first) ^ second


def _repeated_crc(block: bytes, length: int) -> int:
    """CRC-32 of the first ``length`` bytes of ``block`` repeated without end."""
    copies, rest = divmod(length, len(block))
    crc, power, power_length = 0, zlib.crc32(block), len(block)
    while copies:
        if copies & 1:
            crc = crc_combine(crc, power, power_length)
        power = crc_combine(power, power, power_length)
        power_length *= 2
        copies >>= 1
    return crc_combine(crc, zlib.crc32(block[:rest]), rest)
