"""The ceiling for `mmhealth train`: each patient's true probability of a new diagnosis in the label window, under
the documented model, written to `evaluation/oracle.csv` for evaluation only.

It is never a feature: it sits in its own folder that no ingest reader claims (a .csv under SOURCE is no FHIR,
VCF or DICOM input), so it never reaches the lake, the marts or the feature store. `mmhealth train --oracle`
joins it by patient to score each cell's "oracle" beside the models.

**Full oracle** (`p_<outcome>`). The generator draws "has the outcome by the extract date" with probability r
(`PatientProfile.risk`), then an onset age a - Exponential(8 y), re-drawn uniformly in [minimum onset age, a]
when it falls below it (patients.py). The mart's index date d is the patient's last encounter on or before the
index cutoff c, and every onset is an encounter - so a patient who is not a prevalent case at d has no onset in
(d, c] either. With Q(t) the onset-time distribution function,

    P(new diagnosis in (d, d + horizon] | the patient's latent state, d, not prevalent at d)
        = r * (Q(min(d + horizon, extract)) - Q(c)) / (1 - r * Q(c)).

It conditions on everything the generator knew (risk factors, genotype, the small-vessel latent, the other
diagnoses) but not on the death date (a small approximation: a death in the window is drawn after every onset).

**Set oracles** (`p_<outcome>__<set>`). E[p | what a modality set can see] has no closed form (the hidden factors
are correlated with the visible ones through blood pressure and LDL). It is approximated by a logistic
projection: a logistic regression fit to the full oracle as a soft target (each patient weighted p as a case and
1 - p as a non-case) on the set's generator-level variables - clinical: age at index (and its square), sex,
smoking, BMI, blood pressure, LDL, HDL, diabetes / atrial fibrillation / hypertension at index and the onset-timing
term log(Q(end) - Q(c)); genomic: every modelled marker's dosage and the APOE e4/e2 counts; imaging: log lesion
volume of a study on or before the index date. The clinical variables are the noise-free untreated levels, so a
set oracle is what the set could reach if it measured them exactly: still a ceiling for models that see noisy,
treated measurements, and an approximation - a model can beat it by a little where the projection is too
simple."""

from __future__ import annotations

import csv
import datetime as dt
import math
from pathlib import Path

import numpy as np

from mmhealth.synth.model import MIN_ONSET_AGE, ONSET_MEAN_YEARS_BEFORE_EXTRACT, REFERENCE_DATE, reference_ordinal
from mmhealth.synth.patients import DAYS_PER_YEAR, PatientProfile

# The mart's outcome names for the generator's condition keys, and dbt's label horizon (dbt_project.yml
# `label_horizon_days`). The cutoff rule is int_cv_data_end's default: the start of the year holding
# data end - horizon, with the data ending on the extract date.
OUTCOMES = {"stroke": "stroke", "hypertension": "hypertension", "coronary_heart_disease": "chd",
            "alzheimers": "alzheimers"}
LABEL_HORIZON_DAYS = 1461
MODALITIES = ("clinical", "genomic", "imaging")
SETS = tuple("+".join(s) for s in (("clinical",), ("genomic",), ("imaging",), ("clinical", "genomic"),
                                   ("clinical", "imaging"), ("genomic", "imaging"), MODALITIES))
MIN_FIT_ROWS = 30  # fewer patients with a set than this: its projection is not fitted (empty column)
ORACLE_FILE = Path("evaluation") / "oracle.csv"


def index_cutoff_ord() -> int:
    start = REFERENCE_DATE - dt.timedelta(days=LABEL_HORIZON_DAYS)
    return dt.date(start.year, 1, 1).toordinal()


def index_ord(p: PatientProfile, encounter_starts: list[str]) -> int | None:
    """The mart's index date: last encounter on or before the cutoff, for a patient born by then and alive."""
    cut = index_cutoff_ord()
    days = [dt.date.fromisoformat(s[:10]).toordinal() for s in encounter_starts]
    before = [d for d in days if d <= cut]
    if not before:
        return None
    d = max(before)
    if p.birth_ord > d or (p.death_ord is not None and p.death_ord <= d):
        return None
    return d


def onset_cdf(p: PatientProfile, key: str, ordinal: int) -> float:
    """P(onset on or before `ordinal` | the patient has the condition by the extract date)."""
    m, a = MIN_ONSET_AGE[key], p.age_at_reference
    if a < m:
        return 0.0
    t = (ordinal - p.birth_ord) / DAYS_PER_YEAR
    if t < m:
        return 0.0
    if t >= a:
        return 1.0
    tail = math.exp(-(a - m) / ONSET_MEAN_YEARS_BEFORE_EXTRACT)  # draws below the minimum, re-drawn uniformly
    return math.exp(-(a - t) / ONSET_MEAN_YEARS_BEFORE_EXTRACT) - tail + tail * (t - m) / (a - m)


def window_terms(p: PatientProfile, key: str, d: int) -> tuple[float, float]:
    """(Q(window end) - Q(cutoff), Q(cutoff))."""
    cut = index_cutoff_ord()
    end = min(d + LABEL_HORIZON_DAYS, reference_ordinal())
    q_cut = onset_cdf(p, key, cut)
    return max(onset_cdf(p, key, end) - q_cut, 0.0), q_cut


def full_probability(p: PatientProfile, key: str, d: int) -> float:
    r = p.risk.get(key, 0.0)
    gain, q_cut = window_terms(p, key, d)
    denom = 1.0 - r * q_cut
    return r * gain / denom if denom > 0 else 0.0


def patient_row(p: PatientProfile, encounter_starts: list[str], study_ord: int | None,
                lesion_volume_mm3: float | None) -> dict | None:
    """One patient's oracle inputs (None without an index date): the full probabilities, whether each outcome is
    prevalent at the index date, and the generator-level variables each modality set can see."""
    d = index_ord(p, encounter_starts)
    if d is None:
        return None
    age = p.age_at(d)
    smoking_now = p.smoke_start_ord is not None and p.smoke_start_ord <= d
    quit = p.smoke_quit_ord is not None and p.smoke_quit_ord <= d
    clinical = {"age": age, "age2": (age - 60.0) ** 2 / 100.0, "male": float(p.sex == "male"),
                "current_smoker": float(smoking_now and not quit), "former_smoker": float(smoking_now and quit),
                "bmi": p.bmi, "sbp": p.sbp, "dbp": p.dbp, "ldl": p.ldl, "hdl": p.hdl,
                **{f"has_{k}": float(p.has(k, d)) for k in ("diabetes", "afib", "hypertension")}}
    genomic = ({f"dose_{k}": float(sum(v)) for k, v in sorted(p.genotype.items())} |
               {"apoe_e4": float(p.apoe_e4), "apoe_e2": float(p.apoe_e2)}) if p.has_genome else None
    imaging = ({"log_lesion": math.log(lesion_volume_mm3)}
               if study_ord is not None and study_ord <= d and lesion_volume_mm3 else None)
    row = {"patient_id": p.id, "index_date": dt.date.fromordinal(d).isoformat(), "_clinical": clinical,
           "_genomic": genomic, "_imaging": imaging, "_prior": {}, "_timing": {}}
    for outcome, key in OUTCOMES.items():
        row[f"p_{outcome}"] = full_probability(p, key, d)
        row["_prior"][outcome] = p.has(key, d)
        row["_timing"][outcome] = math.log(max(window_terms(p, key, d)[0], 1e-9))
    return row


def _design(row: dict, modalities: tuple[str, ...], outcome: str) -> list[float] | None:
    x: list[float] = []
    for m in modalities:
        part = row[f"_{m}"]
        if part is None:
            return None
        x.extend(part.values())
        if m == "clinical":
            x.append(row["_timing"][outcome])
    return x


def set_probabilities(rows: list[dict]) -> None:
    """Adds p_<outcome>__<set> to every row that has the set, fitted among the patients not prevalent at index."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    for outcome in OUTCOMES:
        for name in SETS:
            mods = tuple(name.split("+"))
            have = [(r, _design(r, mods, outcome)) for r in rows]
            have = [(r, x) for r, x in have if x is not None]
            for r in rows:
                r[f"p_{outcome}__{name}"] = None
            fit = [(r, x) for r, x in have if not r["_prior"][outcome]]
            if len(fit) < MIN_FIT_ROWS:
                continue
            X = np.asarray([x for _, x in fit], float)
            p = np.asarray([r[f"p_{outcome}"] for r, _ in fit], float)
            scaler = StandardScaler().fit(X)
            Xs = scaler.transform(X)
            if p.sum() <= 0:
                continue
            model = LogisticRegression(C=100.0, max_iter=2000)
            model.fit(np.vstack([Xs, Xs]), np.r_[np.ones(len(p)), np.zeros(len(p))],
                      sample_weight=np.r_[p, 1.0 - p])
            probs = model.predict_proba(scaler.transform(np.asarray([x for _, x in have], float)))[:, 1]
            for (r, _), q in zip(have, probs):
                r[f"p_{outcome}__{name}"] = float(q)


def write(rows: list[dict], path: Path) -> int:
    set_probabilities(rows)
    columns = ["patient_id", "index_date"] + [f"p_{o}" for o in OUTCOMES] + [
        f"p_{o}__{s}" for o in OUTCOMES for s in SETS]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for r in rows:
            writer.writerow([("" if r[c] is None else (repr(round(r[c], 12)) if isinstance(r[c], float) else r[c]))
                             for c in columns])
    return len(rows)
