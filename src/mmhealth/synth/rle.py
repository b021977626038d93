"""DICOM RLE Lossless encoding (PS3.5 Annex G) of 16-bit frames, fast enough for tens of thousands of slices.

pydicom's own RLE encoder walks every byte in Python (about 3 ms for a 128 x 128 slice). Here a frame is
split into its two byte planes and each plane is encoded with numpy: rows without a run of three equal bytes
(the noisy low-byte plane, mostly) become literal packets in one vectorised step; only rows with runs (the
smooth high-byte plane) are walked run by run, and those have few runs. The output is standard PackBits, row
by row (no packet crosses a row), which pydicom and every DICOM toolkit decode."""

from __future__ import annotations

import struct

import numpy as np


def _literal_rows(rows: np.ndarray) -> np.ndarray:
    """(n, W) bytes -> (n, W + ceil(W / 128)): each row as literal packets of at most 128 bytes."""
    n, width = rows.shape
    parts = []
    for i in range(0, width, 128):
        block = rows[:, i:i + 128]
        parts += [np.full((n, 1), block.shape[1] - 1, dtype=np.uint8), block]
    return np.hstack(parts)


def _literal(raw: bytes) -> bytes:
    return b"".join(bytes((len(raw[i:i + 128]) - 1,)) + raw[i:i + 128] for i in range(0, len(raw), 128))


def _run_row(raw: bytes, starts: list[int], lengths: list[int]) -> bytes:
    out = []
    lit_from = 0
    for s, n in zip(starts, lengths):
        if n < 3:
            continue
        if lit_from < s:
            out.append(_literal(raw[lit_from:s]))
        value = raw[s:s + 1]
        lit_from = s + n
        while n > 0:
            k = min(n, 128)
            out.append(b"\x00" + value if k == 1 else bytes((257 - k,)) + value)
            n -= k
    if lit_from < len(raw):
        out.append(_literal(raw[lit_from:]))
    return b"".join(out)


def encode_plane(plane: np.ndarray) -> bytes:
    """PackBits segment for one byte plane (H, W), padded to even length."""
    height, width = plane.shape
    eq = plane[:, 1:] == plane[:, :-1]
    has_run = (eq[:, 1:] & eq[:, :-1]).any(axis=1) if width > 2 else np.zeros(height, dtype=bool)
    rows: list[bytes] = [b""] * height
    literal = np.flatnonzero(~has_run)
    if literal.size:
        enc = _literal_rows(plane[literal])
        size, buf = enc.shape[1], enc.tobytes()
        for j, r in enumerate(literal.tolist()):
            rows[r] = buf[j * size:(j + 1) * size]
    with_runs = np.flatnonzero(has_run)
    if with_runs.size:
        sub = plane[with_runs]
        starts_mask = np.ones(sub.shape, dtype=bool)
        starts_mask[:, 1:] = ~eq[with_runs]
        r_idx, c_idx = np.nonzero(starts_mask)
        nxt = np.empty_like(c_idx)
        nxt[:-1] = c_idx[1:]
        last_in_row = np.r_[r_idx[1:] != r_idx[:-1], True]
        nxt[last_in_row] = width
        lengths = (nxt - c_idx).tolist()
        c_list = c_idx.tolist()
        bounds = np.r_[0, np.flatnonzero(last_in_row) + 1].tolist()
        for j, r in enumerate(with_runs.tolist()):
            lo, hi = bounds[j], bounds[j + 1]
            rows[r] = _run_row(sub[j].tobytes(), c_list[lo:hi], lengths[lo:hi])
    seg = b"".join(rows)
    return seg + (b"\x00" if len(seg) % 2 else b"")


def encode_frame(frame: np.ndarray) -> bytes:
    """One 16-bit single-sample frame -> an RLE Lossless fragment (header + two byte-plane segments)."""
    if frame.dtype != np.uint16 or frame.ndim != 2:
        raise ValueError("expected a 2-D uint16 frame")
    high = encode_plane((frame >> 8).astype(np.uint8))  # the most significant bytes come first
    low = encode_plane((frame & 0xFF).astype(np.uint8))
    return struct.pack("<16I", 2, 64, 64 + len(high), *([0] * 13)) + high + low
