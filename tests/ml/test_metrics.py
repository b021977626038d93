import numpy as np
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from mmhealth.ml.metrics import auprc_weighted, auroc_weighted, baselines, bootstrap_metrics, brier_weighted


@pytest.mark.parametrize("seed", range(4))
def test_weighted_curves_match_scikit_learn_with_ties_and_weights(seed):
    rng = np.random.default_rng(seed)
    y = rng.random(400) < 0.15
    score = np.round(rng.random(400) + 0.4 * y, 1)  # rounding makes many ties
    counts = rng.multinomial(400, np.full(400, 1 / 400)).astype(float)
    for w in (np.ones(400), counts):
        assert auroc_weighted(y, score, w[None])[0] == pytest.approx(roc_auc_score(y, score, sample_weight=w))
        assert auprc_weighted(y, score, w[None])[0] == pytest.approx(
            average_precision_score(y, score, sample_weight=w))
        assert brier_weighted(y, score.clip(0, 1), w[None])[0] == pytest.approx(
            brier_score_loss(y, score.clip(0, 1), sample_weight=w))


def test_bootstrap_interval_brackets_estimate_and_narrows_with_more_patients():
    rng = np.random.default_rng(0)
    widths = []
    for n in (200, 3000):
        y = rng.random(n) < 0.3
        prob = np.clip(0.3 + 0.3 * (y - 0.3) + rng.normal(0, 0.2, n), 0, 1)
        est = bootstrap_metrics(y, np.vstack([prob, prob]), n_boot=300, seed=1)
        for e in est.values():
            assert e.low <= e.value <= e.high
        widths.append(est["auroc"].high - est["auroc"].low)
    assert widths[1] < widths[0] / 2


def test_one_class_gives_undefined_auroc_not_a_number_that_looks_real():
    y = np.zeros(10, dtype=bool)
    assert np.isnan(auroc_weighted(y, np.linspace(0, 1, 10), np.ones((1, 10)))[0])


def test_baselines():
    b = baselines(np.array([1, 0, 0, 0]))
    assert b == {"prevalence": 0.25, "auroc": 0.5, "auprc": 0.25, "brier": 0.1875, "majority_accuracy": 0.75}
