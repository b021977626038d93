"""A deployment's profile baseline: how an accepted build of its marts looks, as bands every later build must stay in.

`mmhealth quality baseline` profiles an accepted build (one that passes every invariant) and writes
`expectations/baseline.yml`: per mart the row count, and per column the non-null share, the true share of booleans
(label prevalence, modality flags) and the mean and standard deviation of numbers - each as a value and the band
around it that the tolerances in gate.yml give. The file is reviewed and committed like code; `mmhealth quality
compile` turns it into the `<mart>__profile` suites. The shipped file is the demo's: a deployment makes its own.

Which columns are profiled is not written anywhere by hand: every column of the dbt contract, by its declared type.
Columns dbt tests `not_null` have no completeness band (that is an invariant, from the manifest).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from mmhealth.errors import MMHealthError
from mmhealth.quality.contract import MartContract
from mmhealth.quality.spec import ProfileTolerances

FORMAT = 1
FILENAME = "baseline.yml"
STATS = ("non_null_share", "true_share", "mean", "stdev")
_DIGITS = 6


@dataclass(frozen=True)
class Band:
    value: float
    min: float
    max: float

    def to_yaml(self) -> dict[str, Any]:
        return {"value": _round(self.value), "min": _round(self.min), "max": _round(self.max)}

    @classmethod
    def from_yaml(cls, raw: dict[str, Any]) -> "Band":
        return cls(float(raw["value"]), float(raw["min"]), float(raw["max"]))


@dataclass(frozen=True)
class MartProfile:
    rows: Band
    columns: dict[str, dict[str, Band]] = field(default_factory=dict)  # column -> stat -> band


@dataclass(frozen=True)
class Baseline:
    created: str  # the day it was made, shown beside every profile failure
    lake: str  # which build it profiled (the lake folder's name)
    marts: dict[str, MartProfile]
    tolerances: ProfileTolerances = field(default_factory=ProfileTolerances)

    def covers(self, mart: str) -> bool:
        return mart in self.marts


def share_band(k: int, n: int, tol: ProfileTolerances) -> Band:
    """Share k/n with a band of max(min_half_width, z standard errors). The standard error uses the share smoothed
    by one success and one failure, so a share of 0 or 1 at a small row count still gets a band its sampling noise
    could leave."""
    p = k / n
    smoothed = (k + 1) / (n + 2)
    half = max(tol.min_half_width, tol.z * math.sqrt(smoothed * (1 - smoothed) / n))
    return Band(p, max(0.0, p - half), min(1.0, p + half))


def numeric_bands(values: pd.Series, tol: ProfileTolerances) -> dict[str, Band]:
    """Mean and standard deviation bands of the non-null values (GE computes both the same way: sample sd)."""
    x = pd.to_numeric(values.dropna(), errors="coerce").dropna().astype(float)
    m = len(x)
    if m < 2:
        return {}
    mean, sd = float(x.mean()), float(x.std())
    # A constant column still gets a band: 5% of its value (or a hair around 0).
    scale = max(sd, 0.05 * abs(mean), 1e-9)
    half = max(tol.mean_tolerance_sd, tol.z / math.sqrt(m)) * scale
    return {"mean": Band(mean, mean - half, mean + half),
            "stdev": Band(sd, sd / tol.stdev_ratio, max(sd * tol.stdev_ratio, 1e-9))}


def profile_mart(df: pd.DataFrame, contract: MartContract, tol: ProfileTolerances) -> MartProfile:
    n = int(len(df))
    rows = Band(n, math.floor(n * tol.min_ratio), math.ceil(n * tol.max_ratio))
    columns: dict[str, dict[str, Band]] = {}
    if n == 0:
        return MartProfile(rows)
    for col in contract.columns:
        if col not in df.columns:
            raise MMHealthError(f"{contract.name}.{col}: in the dbt contract but not in the built mart - rebuild "
                                "the marts (`dbt build`) before making a baseline")
        series = df[col]
        stats: dict[str, Band] = {}
        if col not in contract.not_null:
            stats["non_null_share"] = share_band(int(series.notna().sum()), n, tol)
        kind = contract.kind(col)
        if kind == "boolean":
            known = series.dropna().astype(bool)
            if len(known):
                stats["true_share"] = share_band(int(known.sum()), len(known), tol)
        elif kind == "numeric":
            stats.update(numeric_bands(series, tol))
        if stats:
            columns[col] = stats
    return MartProfile(rows, columns)


def make_baseline(frames: dict[str, pd.DataFrame], contracts: dict[str, MartContract], tol: ProfileTolerances,
                  *, created: str, lake: str) -> Baseline:
    return Baseline(created, lake, {m: profile_mart(frames[m], contracts[m], tol) for m in frames}, tol)


def to_yaml(b: Baseline) -> str:
    body = {
        "format": FORMAT,
        "created": b.created,
        "lake": b.lake,
        "tolerances": {k: v for k, v in vars(b.tolerances).items()},
        "marts": {
            name: {"rows": {"value": int(p.rows.value), "min": int(p.rows.min), "max": int(p.rows.max)},
                   "columns": {c: {s: band.to_yaml() for s, band in stats.items()} for c, stats in p.columns.items()}}
            for name, p in b.marts.items()
        },
    }
    head = ("# Profile baseline of this deployment's marts: the bands `mmhealth quality check` holds every build to.\n"
            "# GENERATED by `mmhealth quality baseline` from an accepted build - review the diff like code, commit it,\n"
            "# and run `mmhealth quality baseline` again when a change of the data is accepted (docs/quality.md).\n")
    return head + yaml.safe_dump(body, sort_keys=False, width=120, default_flow_style=None)


def load_baseline(path: Path) -> Baseline | None:
    if not path.exists():
        return None
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise MMHealthError(f"{path}: not valid YAML ({exc}) - regenerate it with `mmhealth quality baseline`")
    if raw.get("format") != FORMAT:
        raise MMHealthError(f"{path}: baseline format {raw.get('format')!r}, expected {FORMAT} - regenerate it with "
                            "`mmhealth quality baseline`")
    marts = {}
    for name, m in (raw.get("marts") or {}).items():
        cols = {c: {s: Band.from_yaml(v) for s, v in stats.items() if s in STATS}
                for c, stats in (m.get("columns") or {}).items()}
        marts[name] = MartProfile(Band.from_yaml(m["rows"]), cols)
    tol = ProfileTolerances(**(raw.get("tolerances") or {}))
    return Baseline(str(raw["created"]), str(raw.get("lake", "")), marts, tol)


def _round(v: float) -> float:
    return float(round(v, _DIGITS))
