"""Deterministic package bytes: any size, streamed, never held whole in memory."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

BLOCK = 1 << 16


def block_for(seed: str) -> bytes:
    return hashlib.shake_256(seed.encode("utf-8")).digest(BLOCK)


PIECE = 1 << 20


def stream(seed: str, start: int, end: int, piece: int = PIECE) -> Iterator[memoryview]:
    """Bytes [start, end) of the package whose content derives from ``seed``.

    Zero-copy views of up to ``piece`` bytes into one repeated block.
    """
    repeated = memoryview(block_for(seed) * (piece // BLOCK + 1))
    position = start
    while position < end:
        offset = position % BLOCK
        length = min(piece, end - position)
        yield repeated[offset : offset + length]
        position += length


def whole(seed: str, size: int) -> bytes:
    return b"".join(bytes(view) for view in stream(seed, 0, size))


def sha256(seed: str, size: int) -> str:
    digest = hashlib.sha256()
    for chunk in stream(seed, 0, size):
        digest.update(chunk)
    return digest.hexdigest()
