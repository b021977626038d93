"""Drift baselines: the statistics of the last accepted run of a mart, with the bounds derived from them.

A baseline is written when a run is accepted - explicitly with `mmhealth quality check --accept`, or
automatically on the first run that passes every other suite when no baseline exists yet. It lives in
`<baselines>/<mart>.json` (default `$MMHEALTH_LAKE/quality/baselines/`): the accepted distribution is a fact about
that lake's data, so it travels with the lake; point `--baselines` at a folder in the repository to review
accepted baselines in pull requests instead.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from mmhealth.quality.compile import drift_param, label_param
from mmhealth.quality.spec import DriftSpec, GateSpec, MartSpec

STATS = ("mean", "median", "stdev")
_FLOOR = 1e-9  # a constant column still gets a non-empty band of width ~0


@dataclass(frozen=True)
class ColumnBaseline:
    mean: float
    median: float
    stdev: float
    count: int
    bounds: dict[str, list[float]]


@dataclass(frozen=True)
class Baseline:
    mart: str
    run_id: str
    accepted_at: str
    content_hash: str
    rows: int
    reason: str  # "first passing run" | "accepted with --accept"
    columns: dict[str, ColumnBaseline]

    def parameters(self) -> dict[str, float]:
        """GE suite parameters for the `<mart>__drift` suite."""
        out = {}
        for col, cb in self.columns.items():
            for stat in STATS:
                lo, hi = cb.bounds[stat]
                out[drift_param(self.mart, col, stat, "min")] = lo
                out[drift_param(self.mart, col, stat, "max")] = hi
        return out


def column_stats(series: pd.Series) -> tuple[float, float, float, int]:
    """Mean, median and sample standard deviation as GE's pandas metrics compute them (nulls dropped)."""
    values = pd.to_numeric(series.dropna().astype(float), errors="coerce").dropna()
    if values.empty:
        return math.nan, math.nan, math.nan, 0
    stdev = float(values.std()) if len(values) > 1 else 0.0
    return float(values.mean()), float(values.median()), stdev, int(len(values))


def compute_baseline(df: pd.DataFrame, mart: MartSpec, drift: DriftSpec, *, run_id: str, accepted_at: str,
                     content_hash: str, reason: str) -> Baseline:
    columns = {}
    for col in mart.drift:
        mean, median, sd, n = column_stats(df[col])
        width = max(sd, _FLOOR)
        bounds = {
            "mean": [mean - drift.mean_tolerance_sd * width, mean + drift.mean_tolerance_sd * width],
            "median": [median - drift.median_tolerance_sd * width, median + drift.median_tolerance_sd * width],
            "stdev": [sd / drift.stdev_ratio, max(sd * drift.stdev_ratio, _FLOOR)],
        }
        columns[col] = ColumnBaseline(mean, median, sd, n, {k: [float(v) for v in b] for k, b in bounds.items()})
    return Baseline(mart.name, run_id, accepted_at, content_hash, int(len(df)), reason, columns)


def baseline_path(directory: Path, mart: str) -> Path:
    return directory / f"{mart}.json"


def load_baseline(directory: Path, mart: MartSpec) -> Baseline | None:
    path = baseline_path(directory, mart.name)
    if not path.exists():
        return None
    raw = json.loads(path.read_text())
    cols = {c: ColumnBaseline(**v) for c, v in raw["columns"].items()}
    baseline = Baseline(**{**raw, "columns": cols})
    # A baseline from before a column was added to `drift:` cannot bound it: treat as no baseline.
    if set(mart.drift) - set(cols):
        return None
    return baseline


def save_baseline(directory: Path, baseline: Baseline) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = baseline_path(directory, baseline.mart)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(asdict(baseline), indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path


def label_parameters(spec: GateSpec, mart: MartSpec, df: pd.DataFrame) -> dict[str, float]:
    """Prevalence bands widened by z binomial standard errors at this run's row count."""
    out = {}
    for band in mart.labels:
        n = int(df[band.column].notna().sum()) if band.column in df else 0
        n = max(n, 1)
        lo = band.min - spec.label_band_z * math.sqrt(band.min * (1 - band.min) / n)
        hi = band.max + spec.label_band_z * math.sqrt(band.max * (1 - band.max) / n)
        out[label_param(mart.name, band.column, "min")] = max(0.0, lo)
        out[label_param(mart.name, band.column, "max")] = min(1.0, hi)
    return out
