"""The multimodal answer: does adding genomics, imaging or both to clinical features help, measured as a paired
difference on the same patients and the same folds.

For each outcome and each richer set S (clinical+genomic, clinical+imaging, all three) the population is the
patients who have S. The S cell and a clinical-only cell on exactly those rows share their CV splits (the rows are
in the same key-independent order, and splits depend only on labels, groups and the seed), so each patient's two
out-of-fold probabilities come from models trained on the same patients. The interval resamples patients once per
bootstrap draw and recomputes both AUROCs on that draw (a paired bootstrap). The oracle's delta - the set oracle
of S minus that of clinical, on the same rows and draws - is what the generator says adding S can give."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mmhealth.ml.metrics import Estimate, auroc_weighted
from mmhealth.ml.schema import MODALITIES

RICHER = (("clinical", "genomic"), ("clinical", "imaging"), MODALITIES)


@dataclass
class Comparison:
    outcome: str
    modalities: tuple[str, ...]
    n_patients: int
    positives: int
    status: str
    model: Estimate | None = None  # delta AUROC of the selected models
    oracle: Estimate | None = None  # delta AUROC of the set oracles
    clinical_auroc: float | None = None
    richer_auroc: float | None = None

    def to_json(self) -> dict:
        return {"outcome": self.outcome, "modalities": "+".join(self.modalities), "n_patients": self.n_patients,
                "positives": self.positives, "status": self.status,
                "clinical_auroc": _r(self.clinical_auroc), "richer_auroc": _r(self.richer_auroc),
                "delta_auroc": self.model.to_json() if self.model else None,
                "oracle_delta_auroc": self.oracle.to_json() if self.oracle else None,
                "verdict": verdict(self)}


def _r(x):
    return None if x is None or not np.isfinite(x) else round(float(x), 4)


def paired_delta(y: np.ndarray, base: np.ndarray, richer: np.ndarray, *, n_boot: int, seed: int) -> Estimate:
    """AUROC(richer) - AUROC(base): point estimate averaged over CV repeats, paired patient-bootstrap 95% interval.
    base/richer are (R, n) out-of-fold probabilities (or (1, n) scores)."""
    y = np.asarray(y, float)
    base, richer = np.atleast_2d(base), np.atleast_2d(richer)
    n = len(y)
    ones = np.ones((1, n))

    def delta(w):
        return (np.mean([auroc_weighted(y, p, w) for p in richer], axis=0)
                - np.mean([auroc_weighted(y, p, w) for p in base], axis=0))

    point = float(delta(ones)[0])
    rng = np.random.default_rng(seed)
    draws, done = [], 0
    while done < n_boot:
        b = min(250, n_boot - done)
        draws.append(delta(rng.multinomial(n, np.full(n, 1.0 / n), size=b).astype(float)))
        done += b
    d = np.concatenate(draws)
    d = d[np.isfinite(d)]
    lo, hi = np.percentile(d, [2.5, 97.5]) if len(d) else (np.nan, np.nan)
    return Estimate(point, float(lo), float(hi))


def compare(clinical_cell, richer_cell, *, n_boot: int, seed: int) -> Comparison:
    c, r = clinical_cell, richer_cell
    out = Comparison(r.outcome, r.modalities, r.n_patients, r.positives, "ok")
    if c.status != "ok" or r.status != "ok":
        out.status = r.status if r.status != "ok" else c.status
        return out
    if c.n_rows != r.n_rows or not np.array_equal(c.y, r.y):  # cannot happen: same rows; refuse if it ever does
        raise AssertionError("paired cells do not share their rows")
    out.model = paired_delta(r.y, c.oof["selected"], r.oof["selected"], n_boot=n_boot, seed=seed)
    out.clinical_auroc = c.metrics["selected"]["auroc"].value
    out.richer_auroc = r.metrics["selected"]["auroc"].value
    if "oracle_set" in c.oracle_scores and "oracle_set" in r.oracle_scores:
        out.oracle = paired_delta(r.y, c.oracle_scores["oracle_set"][None, :], r.oracle_scores["oracle_set"][None, :],
                                  n_boot=n_boot, seed=seed)
    return out


def verdict(c: Comparison) -> str:
    """recovered: the models' paired interval lies above 0. not recovered: it does not, and it lies below the
    oracle's gain (the models fall short of what the data allow). not resolvable at this size: the oracle's own
    interval includes 0, or the models' interval spans both 0 and the oracle's gain."""
    if c.model is None:
        return f"not evaluated ({c.status})"
    if c.model.low > 0:
        return "recovered"
    if c.oracle is None:
        return "no oracle to compare with"
    if c.oracle.low <= 0:
        return "not resolvable at this size (the oracle's own gain is not distinguishable from 0)"
    if c.model.high < c.oracle.value:
        return "not recovered"
    return "not resolvable at this size (the models' interval spans 0 and the oracle's gain)"
