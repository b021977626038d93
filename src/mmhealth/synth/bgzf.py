"""A BGZF writer (the blocked gzip that bgzip, tabix and htslib read), written here so that every byte is
determined by the input: gzip headers carry MTIME 0 and no file name, so the same text compresses to the same
file on every run."""

from __future__ import annotations

import struct
import zlib

_MAX_INPUT = 0xFF00  # bytes of uncompressed data per block, as htslib uses
# The empty block every BGZF file ends with (SAM/BAM spec 4.1.2).
EOF_BLOCK = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


def _block(data: bytes, level: int) -> bytes:
    comp = zlib.compressobj(level, zlib.DEFLATED, -15)
    payload = comp.compress(data) + comp.flush()
    bsize = len(payload) + 25  # total block size minus one: 18 header + payload + 8 trailer - 1
    header = struct.pack("<4BI2BH2BHH", 0x1F, 0x8B, 8, 4, 0, 0, 0xFF, 6, ord("B"), ord("C"), 2, bsize)
    return header + payload + struct.pack("<II", zlib.crc32(data) & 0xFFFFFFFF, len(data))


def compress(data: bytes, level: int = 6) -> bytes:
    """The whole BGZF stream for `data`, ending with the EOF block."""
    blocks = [_block(data[i:i + _MAX_INPUT], level) for i in range(0, len(data), _MAX_INPUT)]
    return b"".join(blocks) + EOF_BLOCK


def decompress(raw: bytes) -> bytes:
    """Inverse of `compress` (any multi-member gzip, really); used when rewriting files to corrupt them."""
    out, pos = [], 0
    while pos < len(raw):
        d = zlib.decompressobj(31)
        out.append(d.decompress(raw[pos:]))
        pos = len(raw) - len(d.unused_data)
    return b"".join(out)
