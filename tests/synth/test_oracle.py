"""The oracle's onset-time distribution is the one patients.py samples from, and its window probability is what
the sampling process gives (checked by simulation, not by restating the formula)."""

import numpy as np
import pytest

from mmhealth.synth import oracle
from mmhealth.synth.model import DEFAULT_PARAMS, MIN_ONSET_AGE
from mmhealth.synth.patients import DAYS_PER_YEAR, _onset_age, sample_patient


@pytest.mark.parametrize("age", [40.0, 63.5, 90.0])
def test_onset_cdf_matches_the_sampler(age):
    p = sample_patient(7, 0, DEFAULT_PARAMS)
    p.age_at_reference = age
    rng = np.random.default_rng(1)
    m = MIN_ONSET_AGE["stroke"]
    draws = np.array([_onset_age(rng, age, m) for _ in range(40_000)])
    for t in np.linspace(m, age, 7):
        ordinal = p.birth_ord + int(t * DAYS_PER_YEAR)
        assert oracle.onset_cdf(p, "stroke", ordinal) == pytest.approx((draws <= t).mean(), abs=0.01)


def test_window_probability_matches_simulation_of_diagnosis_and_onset():
    """r * (Q(end) - Q(cut)) / (1 - r * Q(cut)): the chance of an onset in the window among patients with no onset
    up to the cutoff, simulated by drawing 'has it' with probability r and then an onset age."""
    p = next(q for i in range(200) if (q := sample_patient(7, i, DEFAULT_PARAMS)).age_at_reference > 70)
    p.risk = {"alzheimers": 0.4}
    d = oracle.index_cutoff_ord() - 200
    rng = np.random.default_rng(2)
    n = 60_000
    has = rng.random(n) < 0.4
    ages = np.array([_onset_age(rng, p.age_at_reference, MIN_ONSET_AGE["alzheimers"]) for _ in range(n)])
    onset = p.birth_ord + (ages * DAYS_PER_YEAR).astype(int)
    at_risk = ~(has & (onset <= oracle.index_cutoff_ord()))
    new = has & (onset > oracle.index_cutoff_ord()) & (onset <= d + oracle.LABEL_HORIZON_DAYS)
    assert oracle.full_probability(p, "alzheimers", d) == pytest.approx(new[at_risk].mean(), abs=0.01)


def test_the_oracle_file_has_a_row_per_indexed_patient_and_probabilities_in_range(tmp_path):
    from mmhealth.synth.generate import GenerateConfig, generate

    generate(GenerateConfig(out=tmp_path / "d", patients=120, genomes=60, imaging=10, seed=5))
    import pandas as pd

    frame = pd.read_csv(tmp_path / "d" / oracle.ORACLE_FILE)
    assert 100 <= len(frame) <= 120 and frame["patient_id"].is_unique
    probs = frame[[c for c in frame.columns if c.startswith("p_")]]
    assert ((probs.fillna(0) >= 0) & (probs.fillna(1) <= 1)).all().all()
    assert frame["p_alzheimers__genomic"].notna().sum() <= 60  # only sequenced patients have a genomic score
    assert frame["p_stroke__clinical"].notna().all()
