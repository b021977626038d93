"""Fixtures for the ml tests: a synthetic features table shaped like the mart, published to a local store
the way `features publish --to local` does, and one small training run shared by the serving tests."""

from __future__ import annotations

import pandas as pd
import pytest

from mmhealth.cli import main
from mmhealth.ml.synthetic import synthetic_features, write_local_store


@pytest.fixture(scope="session")
def features_and_oracle() -> tuple[pd.DataFrame, pd.DataFrame]:
    return synthetic_features(600, seed=7, oracle=True)


@pytest.fixture(scope="session")
def features_frame(features_and_oracle) -> pd.DataFrame:
    return features_and_oracle[0]


@pytest.fixture(scope="session")
def local_store(tmp_path_factory, features_frame):
    root = tmp_path_factory.mktemp("store")
    write_local_store(features_frame, root)
    return root


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, local_store, features_and_oracle):
    """Two outcomes, two modality sets, one repeat, few trees: every output of a run, in a few seconds."""
    out = tmp_path_factory.mktemp("run") / "run"
    oracle = out.parent / "oracle.csv"
    features_and_oracle[1].to_csv(oracle, index=False)  # the table's true probabilities (the ceiling)
    code = main(["train", "--from", "local", "--store", str(local_store), "--oracle", str(oracle),
                 "--outcomes", "stroke,alzheimers",
                 "--modalities", "clinical,all", "--repeats", "1", "--bootstrap", "100", "--trees", "10",
                 "--out", str(out), "--export", "sagemaker", "--quiet"])
    assert code == 0
    return out
