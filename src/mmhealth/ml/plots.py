"""ROC and calibration charts per outcome, drawn with the small PNG canvas."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mmhealth.ml.png import Canvas

PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
           (227, 119, 194), (127, 127, 127)]
W, H = 640, 480
LEFT, RIGHT, TOP, BOTTOM = 60, 240, 50, 50


def _axes(title: str, xlabel: str, ylabel: str, limit: float = 1.0) -> tuple[Canvas, callable]:
    """A square plot of [0, limit] x [0, limit] with grid, ticks, diagonal and labels."""
    c = Canvas(W, H)
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM

    def to_px(x, y):
        return LEFT + np.asarray(x) / limit * pw, TOP + (1 - np.asarray(y) / limit) * ph

    digits = 1 if limit >= 0.5 else 2
    for t in np.linspace(0, limit, 6):
        gx, gy = to_px(t, t)
        c.line(gx, TOP, gx, TOP + ph, (225, 225, 225))
        c.line(LEFT, gy, LEFT + pw, gy, (225, 225, 225))
        c.text(int(gx) - 8, TOP + ph + 6, f"{t:.{digits}f}")
        c.text(LEFT - 32, int(gy) - 3, f"{t:.{digits}f}")
    c.line(LEFT, TOP, LEFT, TOP + ph, (0, 0, 0))
    c.line(LEFT, TOP + ph, LEFT + pw, TOP + ph, (0, 0, 0))
    c.line(*to_px(0, 0), *to_px(limit, limit), (150, 150, 150), dash=4)
    c.text(LEFT, 12, title, scale=2 if len(title) * 12 < W - LEFT else 1)
    c.text(LEFT + pw // 2 - 3 * len(xlabel), H - 18, xlabel)
    c.text(4, TOP - 14, ylabel)
    return c, to_px


def _legend(c: Canvas, entries: list[tuple[str, tuple]]) -> None:
    x, y = W - RIGHT + 12, TOP + 18
    c.text(x, TOP, "MODALITIES, AUROC")
    for i, (label, color) in enumerate(entries):
        c.line(x, y + 3 + i * 14, x + 16, y + 3 + i * 14, color, thickness=3)
        c.text(x + 22, y + i * 14, label[:34])


def roc_chart(path: Path, title: str, curves: list[tuple[str, np.ndarray, np.ndarray]]) -> None:
    """curves: (label, y, prob) - one ROC line each."""
    from sklearn.metrics import roc_curve

    c, to_px = _axes(title, "FALSE POSITIVE RATE", "TRUE POSITIVE RATE")
    entries = []
    for i, (label, y, prob) in enumerate(curves):
        color = PALETTE[i % len(PALETTE)]
        fpr, tpr, _ = roc_curve(y, prob)
        c.polyline(*to_px(fpr, tpr), color)
        entries.append((label, color))
    _legend(c, entries)
    c.save(path)


def calibration_points(y: np.ndarray, prob: np.ndarray, bins: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Mean predicted vs observed frequency in quantile bins of the predicted probability."""
    order = np.argsort(prob, kind="mergesort")
    chunks = [c for c in np.array_split(order, bins) if len(c)]
    return (np.array([prob[c].mean() for c in chunks]), np.array([y[c].mean() for c in chunks]))


def calibration_chart(path: Path, title: str, curves: list[tuple[str, np.ndarray, np.ndarray]]) -> None:
    """Reliability diagram. For rare outcomes every point sits near zero, so the axes end at the largest
    point (rounded up to a tenth, or a hundredth below 0.1) instead of at 1."""
    points = [calibration_points(np.asarray(y, float), np.asarray(prob, float)) for _, y, prob in curves]
    top = max([float(np.max(np.r_[px, py])) for px, py in points] + [0.01])
    step = 0.1 if top > 0.1 else 0.01
    limit = min(1.0, float(np.ceil(top / step + 1e-9) * step))
    c, to_px = _axes(title, "MEAN PREDICTED PROBABILITY", "OBSERVED FREQUENCY", limit)
    entries = []
    for i, ((label, _, _), (mx, my)) in enumerate(zip(curves, points)):
        color = PALETTE[i % len(PALETTE)]
        px, py = to_px(mx, my)
        c.polyline(px, py, color)
        for a, b in zip(px, py):
            c.square(a, b, 5, color)
        entries.append((label, color))
    _legend(c, entries)
    c.save(path)
