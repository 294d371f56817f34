"""Deterministic package bytes: any size, streamed, never held whole in memory."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

BLOCK = 1 << 16


def block_for(seed: str) -> bytes:
    return hashlib.shake_256(seed.encode("utf-8")).digest(BLOCK)


def stream(seed: str, start: int, end: int, piece: int = BLOCK) -> Iterator[bytes]:
    """Bytes [start, end) of the package whose content derives from ``seed``."""
    block = block_for(seed)
    doubled = block + block
    position = start
    while position < end:
        offset = position % BLOCK
        length = min(piece, BLOCK, end - position)
        yield doubled[offset : offset + length]
        position += length


def whole(seed: str, size: int) -> bytes:
    return b"".join(stream(seed, 0, size))


def sha256(seed: str, size: int) -> str:
    digest = hashlib.sha256()
    for chunk in stream(seed, 0, size):
        digest.update(chunk)
    return digest.hexdigest()
