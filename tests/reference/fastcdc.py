"""FastCDC (2020 variant) written plainly from the rule in native/include/bodega/bd_chunk.h.

The test oracle for the C chunker: one byte at a time, no skipping tricks beyond the rule
itself, and the gear table rebuilt from its definition with the `blake3` package.
"""
from __future__ import annotations

import blake3

MASK64 = (1 << 64) - 1


def gear_table(version: int = 1) -> list[int]:
    """Entry i: the first 8 bytes, little-endian, of BLAKE3-256(b"bodega gear v<version>" + bytes([i]))."""
    seed = f"bodega gear v{version}".encode()
    return [int.from_bytes(blake3.blake3(seed + bytes([i])).digest()[:8], "little") for i in range(256)]


GEAR = gear_table()


def top_mask(bits: int) -> int:
    """The mask of the top `bits` bits of a 64-bit value."""
    return (MASK64 << (64 - bits)) & MASK64 if bits else 0


def cut_points(data: bytes, min_size: int, avg_size: int, max_size: int, level: int) -> list[int]:
    """The length of every chunk of data, in order."""
    bits = avg_size.bit_length() - 1
    mask_s = top_mask(bits + level)
    mask_l = top_mask(max(bits - level, 1))
    lengths = []
    start = 0
    while start < len(data):
        left = len(data) - start
        length = min(left, max_size)
        if left > min_size:
            h = 0
            for i in range(min_size, min(left, max_size)):
                h = ((h << 1) + GEAR[data[start + i]]) & MASK64
                if h & (mask_s if i < avg_size else mask_l) == 0:
                    length = i + 1
                    break
        lengths.append(length)
        start += length
    return lengths
