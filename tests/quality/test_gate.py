"""The gate end to end on spec-generated marts: clean data passes; each injected defect fails it and publishing
refuses; drift baselines are accepted on the first pass and on --accept."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from mmhealth.errors import MMHealthError
from mmhealth.features.publish import PublishOptions, publish
from mmhealth.quality.compile import stale_files
from mmhealth.quality.datadocs import external_loads
from mmhealth.quality.results import load_latest
from mmhealth.quality.runner import CheckOptions, run_check

FC = "features_cardiovascular"


def check(project, lake, frames, checkpoint="features_only", accept=False, docs=False):
    opts = CheckOptions(project=project, lake=lake, checkpoint=checkpoint, accept=accept, data_docs=docs)
    return run_check(opts, frames=frames)


def failed_checks(result) -> set[str]:
    return {f.check for f in result.failures}


@pytest.fixture(scope="module")
def gated_template(tmp_path_factory, project, clean_frames):
    """A lake where `features_only` passed on clean data (its first pass, hence the drift baseline) and the
    features were published; each test gets a copy."""
    lake = tmp_path_factory.mktemp("gate") / "lake"
    lake.mkdir()
    clean = check(project, lake, clean_frames)
    assert clean.success, clean.failures
    publish(PublishOptions(to="local", lake=lake, checkpoint="features_only"), clean_frames[FC])
    return lake, clean.run_id


@pytest.fixture()
def gated(gated_template, tmp_path):
    src, run_id = gated_template
    dest = tmp_path / "gated"
    shutil.copytree(src, dest)
    return dest, run_id


def test_checked_in_ge_project_matches_gate_spec(spec, project):
    assert stale_files(spec, project) == []


def test_clean_marts_pass_every_suite_and_the_result_is_recorded(project, lake, frames):
    result = check(project, lake, frames, checkpoint="pre_feature_store", docs=True)

    assert result.success, result.failures
    assert set(result.marts) == set(frames)
    assert result.marts[FC].validations == {
        "contract": "passed", "deidentification": "passed", "drift": "skipped (no accepted baseline yet)"}
    # The first passing run becomes the drift baseline, with its bounds stored beside its run id.
    baseline = json.loads((lake / "quality" / "baselines" / f"{FC}.json").read_text())
    assert baseline["run_id"] == result.run_id and baseline["reason"] == "first passing run"
    assert baseline["columns"]["age_at_index"]["bounds"]["mean"][0] < baseline["columns"]["age_at_index"]["mean"]
    latest = load_latest(lake / "quality", "pre_feature_store", "local")
    assert latest.run_id == result.run_id and latest.marts[FC].content_hash == result.marts[FC].content_hash
    assert (lake / "quality" / "runs" / f"{result.run_id}.json").exists()
    index = lake / "quality" / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    assert result.data_docs == str(index)
    for page in index.parent.rglob("*.html"):
        assert external_loads(page.read_text()) == [], page


def _null_keys(df):
    df.loc[[3, 17, 42], "patient_key"] = None


def _out_of_range_vitals(df):
    df.loc[[0, 1, 2], "systolic_bp_last"] = 420.0  # mmHg: a unit or parsing error, not a patient


def _leaked_name_column(df):
    df["patient_name"] = [f"Person {i}" for i in range(len(df))]


def _leaked_identifier_values(df):
    # Innocently named, identifier-shaped: phone numbers in a free-text column.
    df["smoking_status"] = [f"555-{i % 1000:03d}-{i % 10000:04d}" for i in range(len(df))]


def _collapsed_label(df):
    df["hypertension"] = False


def _drifted_distribution(df):
    df["age_at_index"] = np.minimum(df["age_at_index"] + 25, 120)


DEFECTS = {
    "null_keys": (_null_keys, {"key"}),
    "out_of_range_vitals": (_out_of_range_vitals, {"range"}),
    "leaked_identifier_column": (_leaked_name_column, {"schema", "deidentification"}),
    "leaked_identifier_values": (_leaked_identifier_values, {"deidentification"}),
    "collapsed_label_prevalence": (_collapsed_label, {"label_prevalence"}),
    "drifted_distribution": (_drifted_distribution, {"drift"}),
}


@pytest.mark.parametrize("defect", list(DEFECTS))
def test_injected_defect_fails_the_gate_and_publish_refuses(project, gated, frames, defect):
    damage, expected_checks = DEFECTS[defect]
    lake, clean_run_id = gated  # clean data passed and was published; it is the drift baseline

    damaged = frames[FC].copy()
    damage(damaged)
    result = check(project, lake, {**frames, FC: damaged})

    assert not result.success
    assert expected_checks <= failed_checks(result), result.failures
    assert not result.marts[FC].success
    with pytest.raises(MMHealthError, match="FAILED"):
        publish(PublishOptions(to="local", lake=lake, checkpoint="features_only"), damaged)
    # A failed run never becomes the baseline.
    baseline = json.loads((lake / "quality" / "baselines" / f"{FC}.json").read_text())
    assert baseline["run_id"] == clean_run_id


def test_publish_refuses_data_that_changed_after_the_gate_passed(gated, frames):
    lake, _ = gated
    changed = frames[FC].copy()
    changed.loc[0, "bmi_last"] = 31.0  # still valid data, just not the data the gate saw
    with pytest.raises(MMHealthError, match="changed since gate run"):
        publish(PublishOptions(to="local", lake=lake, checkpoint="features_only"), changed)


def test_publish_refuses_when_no_gate_ran(lake, frames):
    with pytest.raises(MMHealthError, match="no quality gate result"):
        publish(PublishOptions(to="local", lake=lake), frames[FC])


def test_accept_rebases_drift_then_the_new_distribution_passes(project, gated, frames):
    lake, _ = gated
    shifted = frames[FC].copy()
    _drifted_distribution(shifted)
    shifted_frames = {**frames, FC: shifted}
    assert failed_checks(check(project, lake, shifted_frames)) == {"drift"}

    accepted = check(project, lake, shifted_frames, accept=True)
    assert accepted.success
    assert accepted.marts[FC].validations["drift"].startswith("accepted")
    assert "accepted with --accept" in accepted.baselines[FC]

    again = check(project, lake, shifted_frames)
    assert again.success and again.marts[FC].validations["drift"] == "passed"
    # ...and the old distribution is now the drift.
    assert failed_checks(check(project, lake, frames)) == {"drift"}


def test_accept_does_not_rebase_when_other_suites_fail(project, gated, frames):
    lake, _ = gated
    bad = frames[FC].copy()
    _null_keys(bad)
    result = check(project, lake, {**frames, FC: bad}, accept=True)
    assert not result.success
    assert any("not accepted" in n for n in result.notes)


def test_small_cells_left_unsuppressed_fail_the_population_gate(project, lake, frames):
    pop = frames["population_genomic"].copy()
    pop.loc[0, "carrier_count"] = 3  # a count below 11 that the mart should have nulled
    result = check(project, lake, {**frames, "population_genomic": pop}, checkpoint="pre_feature_store")
    assert failed_checks(result) == {"small_cell"}
    assert [f.mart for f in result.failures] == ["population_genomic"]


def test_wrong_column_type_fails_schema(project, lake, frames):
    bad = frames[FC].copy()
    bad["age_at_index"] = bad["age_at_index"].astype(str)
    result = check(project, lake, {**frames, FC: bad})
    schema = [f for f in result.failures if f.check == "schema"]
    assert schema and "age_at_index: declared integer, found string" in schema[0].observed


def test_failures_never_carry_identifier_values(project, lake, frames):
    bad = frames[FC].copy()
    _leaked_identifier_values(bad)
    result = check(project, lake, {**frames, FC: bad})
    text = json.dumps([f.__dict__ for f in result.failures])
    assert "smoking_status" in text and "555-" not in text
    stored = (lake / "quality" / "runs" / f"{result.run_id}.json").read_text()
    assert "555-" not in stored


def test_result_hash_ignores_row_order(gated, frames):
    lake, _ = gated
    shuffled = frames[FC].sample(frac=1.0, random_state=1).reset_index(drop=True)
    report = publish(PublishOptions(to="local", lake=lake, checkpoint="features_only"), shuffled)
    assert report.rows == len(shuffled)
    assert isinstance(pd.read_parquet(report.path + "/data.parquet"), pd.DataFrame)


def test_every_checked_in_checkpoint_loads_in_great_expectations(spec, project, tmp_path, monkeypatch):
    import great_expectations as gx

    from mmhealth.quality import gx_deid, gx_schema, gx_share  # noqa: F401  (custom expectations)
    from mmhealth.quality.compile import checkpoint_name, validations_for
    from mmhealth.quality.runner import prepare_workdir

    monkeypatch.setenv("MMHEALTH_ATHENA_URL", "awsathena+rest://@athena.us-east-1.amazonaws.com:443/marts")
    ctx = gx.get_context(mode="file", context_root_dir=str(prepare_workdir(project, tmp_path / "gx")))
    for cp in spec.checkpoints:
        for target in ("local", "athena"):
            checkpoint = ctx.checkpoints.get(checkpoint_name(cp, target))
            assert [vd.name for vd in checkpoint.validation_definitions] == [
                v.name for v in validations_for(spec, cp, target)]
            for vd in checkpoint.validation_definitions:
                assert vd.data_source.name == ("local_marts" if target == "local" else "athena_marts")
                assert len(vd.suite.expectations) > 0


def test_a_second_check_on_the_same_lake_waits_its_turn(project, lake, frames):
    import fcntl

    (lake / "quality").mkdir()
    with open(lake / "quality" / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        with pytest.raises(MMHealthError, match="another quality check is running"):
            check(project, lake, frames)
