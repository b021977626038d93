"""The RLE Lossless encoder: whatever the frame, pydicom's decoder gives the same pixels back."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from pydicom.pixels.decoders.rle import _rle_decode_frame

from mmhealth.synth.rle import encode_frame


def _round_trip(frame: np.ndarray) -> np.ndarray:
    decoded = _rle_decode_frame(encode_frame(frame), frame.shape[0], frame.shape[1], 1, 16)
    return np.frombuffer(decoded, dtype="<u2").reshape(frame.shape)


@settings(max_examples=150, deadline=None)
@given(arrays(np.uint16, st.tuples(st.integers(1, 12), st.integers(1, 300)),
              elements=st.sampled_from([0, 1, 2, 255, 256, 600, 65535])))
def test_any_frame_round_trips(frame):
    assert np.array_equal(_round_trip(frame), frame)


def test_long_runs_noise_and_mixed_rows():
    rng = np.random.default_rng(1)
    smooth = np.zeros((256, 256), dtype=np.uint16)
    smooth[40:220, 30:230] = 600
    smooth[100:130, 90:120] = 1500
    noisy = (smooth + rng.integers(0, 40, smooth.shape)).astype(np.uint16)
    mixed = noisy.copy()
    mixed[::3, :200] = 7  # rows that mix long runs with noise
    for frame in (smooth, noisy, mixed, rng.integers(0, 65536, (64, 64)).astype(np.uint16)):
        assert np.array_equal(_round_trip(frame), frame)
    assert len(encode_frame(smooth)) < smooth.nbytes / 20  # it does compress
