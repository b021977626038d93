"""Leakage guards: shuffled labels score like chance, patients never straddle a split, no feature is dated
after the index date."""

import numpy as np
import pandas as pd
import pytest

from mmhealth.errors import MMHealthError
from mmhealth.ml.cv import grouped_splits
from mmhealth.ml.dataset import prepare
from mmhealth.ml.synthetic import synthetic_features
from mmhealth.ml.train import TrainConfig, evaluate_cell

CHEAP = dict(repeats=1, n_boot=50, model_types=("logistic",))


@pytest.fixture(scope="module")
def big():
    return synthetic_features(1500, seed=3)


@pytest.mark.parametrize("outcome", ["stroke", "hypertension", "coronary_heart_disease", "alzheimers"])
def test_shuffled_labels_give_chance_auroc(big, outcome):
    frame = big.copy()
    real = evaluate_cell(prepare(frame), outcome, ("clinical", "genomic", "imaging"), "has_set",
                         TrainConfig(seed=11, **CHEAP))
    frame[outcome] = np.random.default_rng(5).permutation(frame[outcome].to_numpy())
    shuffled = evaluate_cell(prepare(frame), outcome, ("clinical",), "has_set", TrainConfig(seed=11, **CHEAP))
    assert shuffled.n_rows == 1500
    assert abs(shuffled.metrics["logistic"]["auroc"].value - 0.5) <= 0.07
    # The same pipeline does find the signal the labels really carry: the guard is not vacuous.
    assert real.metrics["logistic"]["auroc"].value > 0.62


def test_no_patient_on_both_sides_of_any_fold():
    frame = synthetic_features(300, seed=1, rows_per_patient=3)  # several index dates per patient
    y = frame["stroke"].to_numpy()
    groups = frame["patient_key"].to_numpy()
    splits = grouped_splits(y, groups, folds=5, repeats=3, seed=0)
    assert len(splits) == 15
    for s in splits:
        assert not set(groups[s.train]) & set(groups[s.test])
    for r in range(3):  # every row is tested exactly once per repeat
        tested = np.concatenate([s.test for s in splits if s.repeat == r])
        assert sorted(tested) == list(range(len(frame)))
    # Repeats really differ.
    assert not np.array_equal(splits[0].test, splits[5].test)


def test_ungrouped_kfold_would_have_leaked():
    """The check above has teeth: a plain stratified split puts the same patient on both sides."""
    from sklearn.model_selection import StratifiedKFold

    frame = synthetic_features(300, seed=1, rows_per_patient=3)
    groups = frame["patient_key"].to_numpy()
    train, test = next(StratifiedKFold(5, shuffle=True, random_state=0).split(frame, frame["stroke"]))
    assert set(groups[train]) & set(groups[test])


def test_feature_dated_after_index_date_is_refused(features_frame):
    checked = prepare(features_frame).provenance.extra["as_of_check"]  # generator: dated feature never later
    assert checked.startswith("passed") and "clinical_last_bp_date" in checked
    bad = features_frame.copy()
    bad.loc[5, "clinical_last_bp_date"] = bad.loc[5, "index_date"] + pd.Timedelta(days=1)
    with pytest.raises(MMHealthError, match="clinical_last_bp_date is after index_date for 1 of"):
        prepare(bad)


def test_same_day_as_index_date_is_allowed(features_frame):
    ok = features_frame.copy()
    ok["clinical_last_bp_date"] = ok["index_date"] + pd.Timedelta(hours=9)  # later that day: still as of
    prepare(ok)


def test_string_dates_are_checked_too(features_frame):
    # The SageMaker offline store gives dates back as strings.
    bad = features_frame.copy()
    bad["index_date"] = bad["index_date"].dt.strftime("%Y-%m-%d")
    bad["clinical_last_bp_date"] = (features_frame["index_date"] + pd.Timedelta(days=30)).dt.strftime("%Y-%m-%d")
    with pytest.raises(MMHealthError, match="clinical_last_bp_date"):
        prepare(bad)
