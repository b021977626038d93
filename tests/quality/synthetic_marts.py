"""Mart-shaped DataFrames generated from the gate spec itself (expectations/gate.yml), for gate and publish tests
and the benchmark that must not wait for a dbt build. Every declared column gets plausible values for its type,
range, label band, completeness share and small-cell rule, so a clean frame passes by construction and stays in
step when the spec changes. Deterministic for a seed."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from mmhealth.quality.spec import GateSpec, MartSpec, load_spec

REPO = Path(__file__).resolve().parents[2]
CATEGORIES = ["female", "male", "other", "unknown"]


def gate_spec() -> GateSpec:
    return load_spec(REPO / "expectations" / "gate.yml")


def _patient_keys(n: int, seed: int) -> np.ndarray:
    # Keyed-hash shaped (64 hex), like dbt's pseudonymous patient_key: never UUID-shaped.
    return np.array([hashlib.sha256(f"{seed}:{i}".encode()).hexdigest() for i in range(n)], dtype=object)


def mart_frame(spec: GateSpec, mart: MartSpec, n: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ranges = {r.column: r for r in mart.ranges}
    labels = {b.column: b for b in mart.labels}
    completeness = {c: m.min_non_null for m in mart.completeness for c in m.columns}
    data: dict[str, object] = {}
    for i, (col, typ) in enumerate(mart.columns.items()):
        if col in mart.key and len(mart.key) == 1:
            data[col] = pd.array(_patient_keys(n, seed), dtype="str")
            continue
        if col in mart.key:
            # Compound keys: the first key column varies fastest, so combinations are unique.
            pos = mart.key.index(col)
            data[col] = pd.array([f"{col}_{(j // (7 ** pos)) % 7 if pos < len(mart.key) - 1 else j // (7 ** pos)}"
                                  for j in range(n)], dtype="str")
            continue
        if col in mart.suppressed_counts:
            values = rng.integers(11, 400, n).astype(float)
            values[rng.random(n) < 0.15] = np.nan  # suppressed cells
            data[col] = pd.array(np.where(np.isnan(values), None, values), dtype="Int64")
            continue
        if typ == "boolean":
            p = (labels[col].min + labels[col].max) / 2 if col in labels else 0.3
            data[col] = rng.random(n) < p
        elif typ in ("integer", "float", "number"):
            r = ranges.get(col)
            lo = r.min if r and r.min is not None else 0.0
            hi = r.max if r and r.max is not None else lo + 100.0
            if typ == "integer" and hi - lo <= 3:
                values = rng.integers(int(lo), int(hi) + 1, n).astype(float)
            else:
                mid, sd = lo + (hi - lo) * 0.45, (hi - lo) / 10
                values = np.clip(rng.normal(mid, sd, n), lo, hi)
                values = np.round(values) if typ == "integer" else np.round(values, 2)
            data[col] = values
        elif typ in ("date", "timestamp"):
            days = rng.integers(0, 3650, n)
            data[col] = (np.datetime64("2012-01-01") + days.astype("timedelta64[D]")).astype("datetime64[us]")
        else:
            data[col] = pd.array(rng.choice(CATEGORIES, n), dtype="str")
        # Optional columns get nulls, below what their modality's completeness allows.
        if col not in mart.not_null and typ != "boolean":
            share = completeness.get(col, 0.9)
            missing = rng.random(n) < (1 - share) / 2
            if typ in ("integer",):
                data[col] = pd.array(np.where(missing, None, data[col]), dtype="Int64")
            elif typ in ("float", "number"):
                data[col] = np.where(missing, np.nan, data[col])
            elif typ == "string":
                data[col] = pd.array(np.where(missing, None, np.asarray(data[col], dtype=object)), dtype="str")
        elif typ == "integer":
            data[col] = np.asarray(data[col]).astype("int64")
    return pd.DataFrame(data)


def all_marts(n: int = 400, seed: int = 7, spec: GateSpec | None = None) -> dict[str, pd.DataFrame]:
    spec = spec or gate_spec()
    sizes = {"population_clinical": 60, "population_genomic": 40, "population_imaging": 30}
    return {name: mart_frame(spec, mart, sizes.get(name, n), seed) for name, mart in spec.marts.items()}
