"""A tiny raster canvas and PNG writer (numpy + zlib), because the pinned stack has no plotting backend that
writes static images (no matplotlib; plotly needs kaleido). Enough for line charts: lines, markers, axes,
and labels in a built-in 5x7 pixel font."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

# 5x7 glyphs, one string of 7 rows of 5 bits per character.
_FONT = {
    "0": "01110 10001 10011 10101 11001 10001 01110", "1": "00100 01100 00100 00100 00100 00100 01110",
    "2": "01110 10001 00001 00010 00100 01000 11111", "3": "11110 00001 00001 01110 00001 00001 11110",
    "4": "00010 00110 01010 10010 11111 00010 00010", "5": "11111 10000 11110 00001 00001 10001 01110",
    "6": "00110 01000 10000 11110 10001 10001 01110", "7": "11111 00001 00010 00100 01000 01000 01000",
    "8": "01110 10001 10001 01110 10001 10001 01110", "9": "01110 10001 10001 01111 00001 00010 01100",
    ".": "00000 00000 00000 00000 00000 01100 01100", "-": "00000 00000 00000 11111 00000 00000 00000",
    "+": "00000 00100 00100 11111 00100 00100 00000", "=": "00000 00000 11111 00000 11111 00000 00000",
    "(": "00010 00100 01000 01000 01000 00100 00010", ")": "01000 00100 00010 00010 00010 00100 01000",
    ":": "00000 01100 01100 00000 01100 01100 00000", "/": "00001 00010 00010 00100 01000 01000 10000",
    "_": "00000 00000 00000 00000 00000 00000 11111", " ": "00000 00000 00000 00000 00000 00000 00000",
    ",": "00000 00000 00000 00000 01100 00100 01000", "'": "00100 00100 01000 00000 00000 00000 00000",
    "%": "11001 11010 00010 00100 01000 01011 10011",
    "A": "01110 10001 10001 11111 10001 10001 10001", "B": "11110 10001 10001 11110 10001 10001 11110",
    "C": "01110 10001 10000 10000 10000 10001 01110", "D": "11110 10001 10001 10001 10001 10001 11110",
    "E": "11111 10000 10000 11110 10000 10000 11111", "F": "11111 10000 10000 11110 10000 10000 10000",
    "G": "01110 10001 10000 10111 10001 10001 01111", "H": "10001 10001 10001 11111 10001 10001 10001",
    "I": "01110 00100 00100 00100 00100 00100 01110", "J": "00111 00010 00010 00010 00010 10010 01100",
    "K": "10001 10010 10100 11000 10100 10010 10001", "L": "10000 10000 10000 10000 10000 10000 11111",
    "M": "10001 11011 10101 10101 10001 10001 10001", "N": "10001 10001 11001 10101 10011 10001 10001",
    "O": "01110 10001 10001 10001 10001 10001 01110", "P": "11110 10001 10001 11110 10000 10000 10000",
    "Q": "01110 10001 10001 10001 10101 10010 01101", "R": "11110 10001 10001 11110 10100 10010 10001",
    "S": "01111 10000 10000 01110 00001 00001 11110", "T": "11111 00100 00100 00100 00100 00100 00100",
    "U": "10001 10001 10001 10001 10001 10001 01110", "V": "10001 10001 10001 10001 10001 01010 00100",
    "W": "10001 10001 10001 10101 10101 10101 01010", "X": "10001 10001 01010 00100 01010 10001 10001",
    "Y": "10001 10001 01010 00100 00100 00100 00100", "Z": "11111 00001 00010 00100 01000 10000 11111",
}


class Canvas:
    def __init__(self, width: int, height: int, background=(255, 255, 255)):
        self.pixels = np.empty((height, width, 3), dtype=np.uint8)
        self.pixels[:] = background
        self.width, self.height = width, height

    def _plot(self, x: np.ndarray, y: np.ndarray, color, thickness: int = 1) -> None:
        r = thickness // 2
        for dx in range(-r, thickness - r):
            for dy in range(-r, thickness - r):
                xs, ys = x + dx, y + dy
                ok = (xs >= 0) & (xs < self.width) & (ys >= 0) & (ys < self.height)
                self.pixels[ys[ok], xs[ok]] = color

    def line(self, x0, y0, x1, y1, color=(0, 0, 0), thickness: int = 1, dash: int = 0) -> None:
        steps = int(max(abs(x1 - x0), abs(y1 - y0))) + 1
        t = np.linspace(0.0, 1.0, steps)
        if dash:
            t = t[(np.arange(steps) // dash) % 2 == 0]
        xs = np.rint(x0 + (x1 - x0) * t).astype(int)
        ys = np.rint(y0 + (y1 - y0) * t).astype(int)
        self._plot(xs, ys, color, thickness)

    def polyline(self, xs, ys, color, thickness: int = 2) -> None:
        for i in range(len(xs) - 1):
            self.line(xs[i], ys[i], xs[i + 1], ys[i + 1], color, thickness)

    def square(self, x, y, size, color) -> None:
        x, y = int(round(x)), int(round(y))
        h = size // 2
        self.pixels[max(y - h, 0):max(y + h + 1, 0), max(x - h, 0):max(x + h + 1, 0)] = color

    def text(self, x: int, y: int, s: str, color=(0, 0, 0), scale: int = 1) -> None:
        for i, ch in enumerate(s.upper()):
            glyph = _FONT.get(ch, _FONT[" "])
            for row, bits in enumerate(glyph.split()):
                for col, bit in enumerate(bits):
                    if bit == "1":
                        px, py = x + (i * 6 + col) * scale, y + row * scale
                        self.pixels[py:py + scale, px:px + scale] = color

    def save(self, path: str | Path) -> None:
        Path(path).write_bytes(encode_png(self.pixels))


def encode_png(rgb: np.ndarray) -> bytes:
    """RGB uint8 (H, W, 3) -> PNG bytes (colour type 2, filter 0 on every row)."""
    h, w, _ = rgb.shape
    raw = np.concatenate([np.zeros((h, 1), dtype=np.uint8), rgb.reshape(h, w * 3)], axis=1).tobytes()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def decode_png(data: bytes) -> np.ndarray:
    """Inverse of encode_png for the files it writes (used by tests to check the images)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    w = h = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            w, h = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(h, w * 3 + 1)
    return raw[:, 1:].reshape(h, w, 3)
