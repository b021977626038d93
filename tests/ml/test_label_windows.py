"""Labels that know when the data ends: rows whose label window the data does not reach are left out of training
and evaluation, and `train` says how many - on a mart dbt builds from a lake whose data ends before the windows do,
and on published features where every window, or some, is unobserved."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import duckdb
import numpy as np
import pytest

from mmhealth.cli import main
from mmhealth.ml.dataset import prepare
from mmhealth.ml.synthetic import synthetic_features, write_local_store
from mmhealth.ml.train import TrainConfig, evaluate_cell

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("VIRTUAL_ENV", REPO / ".venv")) / "bin"
CHEAP = ["--repeats", "1", "--bootstrap", "50", "--trees", "10", "--quiet"]


def _with_windows(frame, unobserved_share, seed=0):
    frame = frame.copy()
    frame["label_window_observed"] = np.random.default_rng(seed).random(len(frame)) >= unobserved_share
    return frame


def test_a_cell_leaves_unobserved_windows_out_and_counts_them():
    frame = _with_windows(synthetic_features(800, seed=2), 0.25)
    data = prepare(frame)
    assert data.schema.observed_column == "label_window_observed"
    assert "label_window_observed" in data.schema.ignored  # never a feature
    cell = evaluate_cell(data, "hypertension", ("clinical",), "has_set",
                         TrainConfig(repeats=1, n_boot=20, model_types=("logistic",)))
    unobserved = int((~frame["label_window_observed"]).sum())
    assert cell.excluded_unobserved == unobserved > 0
    prevalent_free = frame[frame["label_window_observed"]]
    assert cell.n_rows == len(prevalent_free) - cell.excluded_prevalent


def test_train_reports_the_rows_it_left_out(tmp_path, capsys):
    frame = _with_windows(synthetic_features(600, seed=4), 0.3)
    write_local_store(frame, tmp_path / "store")
    out = tmp_path / "run"
    assert main(["train", "--store", str(tmp_path / "store"), "--outcomes", "hypertension", "--modalities",
                 "clinical", "--out", str(out), *CHEAP]) == 0
    printed = capsys.readouterr().out
    unobserved = int((~frame["label_window_observed"]).sum())
    assert f"train: {unobserved} of 600 rows have a label window the data does not reach" in printed
    results = json.loads((out / "results.json").read_text())
    assert results["unobserved_rows"] == unobserved
    own = [r for r in results["results"] if r["population"] == "has_set"]  # every patient has clinical data
    assert [r["excluded_unobserved"] for r in own] == [unobserved]
    assert f"{unobserved} of 600 rows have a label window the data does not reach" in (out / "results.md").read_text()


def test_train_on_data_that_ends_before_every_window_says_what_it_cannot_do(tmp_path, capsys):
    frame = _with_windows(synthetic_features(300, seed=5), 1.0)
    write_local_store(frame, tmp_path / "store")
    assert main(["train", "--store", str(tmp_path / "store"), "--outcomes", "stroke,hypertension",
                 "--modalities", "clinical", "--out", str(tmp_path / "run"), *CHEAP]) == 0
    printed = capsys.readouterr().out
    assert "train: 300 of 300 rows have a label window the data does not reach" in printed
    assert "no row has an observed label window" in printed
    assert "train: hypertension: no cell could be evaluated - 0 positive(s) among 0 usable rows" in printed
    assert "docs/ml.md#labels-and-the-data-end" in printed and "expectations/baseline.yml" in printed


@pytest.fixture(scope="module")
def short_extract(small_pipeline, tmp_path_factory):
    """The small pipeline's lake, its features rebuilt as if the extract ended 2024-09-30 while a study fixed the
    index cutoff at 2021-01-01 (the old fixed default): windows of late index dates end after the data."""
    lake = tmp_path_factory.mktemp("short-extract") / "lake"
    lake.mkdir()
    for entry in small_pipeline.lake.iterdir():
        if entry.name == "warehouse.duckdb":
            continue
        (lake / entry.name).symlink_to(entry)
    (lake / "warehouse.duckdb").write_bytes(small_pipeline.warehouse.read_bytes())
    env = {**small_pipeline.env, "MMHEALTH_LAKE": str(lake)}
    vars_ = json.dumps({"extract_date": "2024-09-30", "cv_index_cutoff_date": "2021-01-01"})
    proc = subprocess.run([str(BIN / "dbt"), "run", "--quiet", "--select",
                           "int_cv_data_end int_cv_index_dates int_cv_labels features_cardiovascular",
                           "--vars", vars_, "--target-path", str(lake.parent / "target"),
                           "--log-path", str(lake.parent / "logs")],
                          cwd=REPO, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with duckdb.connect(str(lake / "warehouse.duckdb"), read_only=True) as con:
        return con.sql("select * from mmhealth_marts.features_cardiovascular").df()


def test_windows_ending_after_the_data_are_marked_unobserved(short_extract):
    frame = short_extract
    ends = frame["label_window_end_date"].astype("datetime64[ns]")
    expected = ends <= np.datetime64("2024-09-30")
    assert (frame["label_window_observed"].astype(bool) == expected).all()
    assert 0 < expected.sum() < len(frame)  # some windows close before the data ends, some after


def test_training_on_that_mart_leaves_the_unobserved_rows_out(short_extract, tmp_path, capsys):
    write_local_store(short_extract, tmp_path / "store")
    assert main(["train", "--store", str(tmp_path / "store"), "--outcomes", "hypertension", "--modalities",
                 "clinical", "--out", str(tmp_path / "run"), *CHEAP]) == 0
    unobserved = int((~short_extract["label_window_observed"].astype(bool)).sum())
    assert (f"train: {unobserved} of {len(short_extract)} rows have a label window the data does not reach"
            in capsys.readouterr().out)
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    own = next(r for r in results["results"] if r["population"] == "has_set")
    assert own["excluded_unobserved"] == unobserved
