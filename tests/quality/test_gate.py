"""The gate end to end on the marts dbt builds from generated data (the shared small pipeline): a baseline of a build
passes its own check; each defect injected after the baseline fails the check under the expected rule and
publishing refuses; without a baseline only invariants run and the result says so."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from gatekit import MARTS, compile_project, copy_lake, copy_project, options, sql

from mmhealth.errors import MMHealthError
from mmhealth.features.publish import PublishOptions, publish
from mmhealth.quality.baseline import load_baseline
from mmhealth.quality.compile import project_files, stale_files
from mmhealth.quality.results import load_latest
from mmhealth.quality.runner import load_sources, run_check

FC = "features_cardiovascular"


def check(project, lake, manifest, **kw):
    return run_check(options(project, lake, manifest, **kw))


def failed(result) -> set[str]:
    return {f.check for f in result.failures}


def test_checked_in_project_matches_its_sources(project, small_pipeline):
    """expectations/gx/ is exactly what gate.yml, the dbt manifest and baseline.yml compile to."""
    src = load_sources(options(project, project, small_pipeline.manifest))
    assert stale_files(src, project) == [], "run `mmhealth quality compile`"


def test_without_a_baseline_only_invariants_run_and_the_result_says_so(invariants_project, lake, small_pipeline):
    result = check(invariants_project, lake, small_pipeline.manifest, checkpoint="pre_feature_store")

    assert result.success, result.failures
    assert result.marts[FC].validations == {"invariants": "passed", "deidentification": "passed",
                                            "integrity": "passed", "profile": "skipped (no baseline)"}
    assert "no baseline" in result.baselines["profile"] and "mmhealth quality baseline" in result.baselines["profile"]
    suites = {p.name for p in (invariants_project / "gx" / "expectations").glob("*.json")}
    assert not any(s.endswith("__profile.json") for s in suites)


def test_a_baseline_of_a_build_is_reviewed_bands_and_the_build_passes_it(baselined, small_pipeline, tmp_path):
    lake, proj, report = baselined
    lake, proj = copy_lake(lake, tmp_path / "lake"), copy_project(tmp_path / "proj", src=proj)
    baseline = load_baseline(proj / "baseline.yml")
    fc = baseline.marts[FC]
    rows = sql(lake, f"select count(*) from {MARTS}.{FC}")[0][0]
    assert fc.rows.value == rows and fc.rows.min < rows < fc.rows.max
    # every value sits inside its own band; booleans have a prevalence band, numbers a distribution
    for col, stats in fc.columns.items():
        for stat, band in stats.items():
            assert band.min <= band.value <= band.max, (col, stat)
    assert set(fc.columns["hypertension"]) == {"true_share"}  # a label dbt tests not_null: no completeness band
    assert {"non_null_share", "mean", "stdev"} <= set(fc.columns["bmi_last"])
    hyp = sql(lake, f"select avg(hypertension::int) from {MARTS}.{FC}")[0][0]
    assert fc.columns["hypertension"]["true_share"].value == pytest.approx(hyp, abs=1e-6)

    result = check(proj, lake, small_pipeline.manifest, checkpoint="pre_feature_store")
    assert result.success, result.failures
    assert result.marts[FC].validations["profile"] == "passed"
    assert f"baseline.yml of {baseline.created}" in result.baselines["profile"]
    latest = load_latest(lake / "quality", "pre_feature_store", "local")
    assert latest.run_id == result.run_id and latest.marts[FC].rows == rows


@pytest.fixture()
def gated(baselined, tmp_path):
    """A copy of the baselined lake and project; each test damages its own."""
    lake, proj, _ = baselined
    return copy_lake(lake, tmp_path / "lake"), copy_project(tmp_path / "proj", src=proj)


def _duplicate_key(lake):
    sql(lake, f"insert into {MARTS}.{FC} select * from {MARTS}.{FC} limit 1")


def _halve_completeness(lake):
    # half of the patients who have a BMI lose it: a join or a unit filter gone wrong
    sql(lake, f"""update {MARTS}.{FC} set bmi_last = null where patient_key in (
                  select patient_key from {MARTS}.{FC} where bmi_last is not null
                  order by patient_key limit (select count(bmi_last) // 2 from {MARTS}.{FC}))""")


def _reveal_small_cell(lake):
    sql(lake, f"""update {MARTS}.population_clinical set patient_count = 4
                  where (section, dimension, category) in (select section, dimension, category
                         from {MARTS}.population_clinical where patient_count is null limit 1)""")


def _out_of_range_vitals(lake):
    sql(lake, f"""update {MARTS}.{FC} set systolic_bp_last = systolic_bp_last * 10 where patient_key in (
                  select patient_key from {MARTS}.{FC} where systolic_bp_last is not null limit 3)""")


def _leaked_identifier_values(lake):
    # innocently named, identifier-shaped: phone numbers in a text column
    sql(lake, f"update {MARTS}.{FC} set smoking_status = '555-010-' || lpad(cast(age_at_index as varchar), 4, '0')")


def _collapsed_label(lake):
    sql(lake, f"update {MARTS}.{FC} set hypertension = false")


def _drifted_distribution(lake):
    sql(lake, f"update {MARTS}.{FC} set age_at_index = least(age_at_index + 25, 120)")


def _orphaned_patients(lake):
    sql(lake, f"""delete from {MARTS}.patient_360 where patient_key in (
                  select patient_key from {MARTS}.{FC} order by patient_key limit 2)""")


# defect -> (damage, the check that must fail, the checkpoint that sees it)
DEFECTS = {
    "duplicated_key": (_duplicate_key, "key", "features_only"),
    "halved_completeness": (_halve_completeness, "profile:completeness", "features_only"),
    "revealed_small_cell": (_reveal_small_cell, "small_cell", "pre_feature_store"),
    "out_of_range_vitals": (_out_of_range_vitals, "range", "features_only"),
    "identifier_values": (_leaked_identifier_values, "deidentification", "features_only"),
    "collapsed_label": (_collapsed_label, "profile:prevalence", "features_only"),
    "drifted_distribution": (_drifted_distribution, "profile:distribution", "features_only"),
    "orphaned_patients": (_orphaned_patients, "integrity", "features_only"),
}


@pytest.mark.parametrize("defect", list(DEFECTS))
def test_a_defect_after_the_baseline_fails_the_gate_and_publish_refuses(gated, small_pipeline, defect):
    lake, proj = gated
    damage, expected, checkpoint = DEFECTS[defect]
    damage(lake)

    result = check(proj, lake, small_pipeline.manifest, checkpoint=checkpoint)

    assert not result.success
    assert expected in failed(result), result.failures
    with pytest.raises(MMHealthError, match="FAILED"):
        publish(PublishOptions(to="local", lake=lake, checkpoint=checkpoint, manifest=small_pipeline.manifest))


def test_a_profile_failure_shows_the_band_the_value_and_the_baseline_date(gated, small_pipeline):
    lake, proj = gated
    _halve_completeness(lake)
    result = check(proj, lake, small_pipeline.manifest, checkpoint="features_only")
    created = load_baseline(proj / "baseline.yml").created
    f = next(f for f in result.failures if f.check == "profile:completeness")
    assert f.column == "bmi_last"
    # observed share, the band, the baseline value and its date
    assert float(f.observed) < 0.6
    assert f.expected.startswith("[") and f"of {created}" in f.expected and "baseline" in f.expected


def test_a_clean_build_publishes_and_a_change_after_the_gate_is_refused(gated, small_pipeline):
    lake, proj = gated
    assert check(proj, lake, small_pipeline.manifest, checkpoint="features_only").success
    report = publish(PublishOptions(to="local", lake=lake, checkpoint="features_only",
                                    manifest=small_pipeline.manifest))
    assert report.version == 1 and report.written > 0
    sql(lake, f"update {MARTS}.{FC} set bmi_last = bmi_last + 0.1 where bmi_last is not null")
    with pytest.raises(MMHealthError, match="changed since gate run"):
        publish(PublishOptions(to="local", lake=lake, checkpoint="features_only", manifest=small_pipeline.manifest))


def test_failures_never_carry_identifier_values(gated, small_pipeline):
    lake, proj = gated
    _leaked_identifier_values(lake)
    result = check(proj, lake, small_pipeline.manifest, checkpoint="features_only")
    text = json.dumps([f.__dict__ for f in result.failures])
    assert "smoking_status" in text and "555-" not in text
    assert "555-" not in (lake / "quality" / "runs" / f"{result.run_id}.json").read_text()


def test_a_stale_project_is_refused_with_the_fix(gated, small_pipeline):
    lake, proj = gated
    gate = proj / "gate.yml"
    gate.write_text(gate.read_text().replace("latest_bmi: [10, 80]", "latest_bmi: [12, 80]"))
    with pytest.raises(MMHealthError, match="stale .* run `mmhealth quality compile`"):
        check(proj, lake, small_pipeline.manifest)
    compile_project(proj, small_pipeline.manifest)
    assert check(proj, lake, small_pipeline.manifest).success


def test_a_build_failing_an_invariant_cannot_become_the_baseline(gated, small_pipeline):
    from mmhealth.quality.runner import run_baseline

    lake, proj = gated
    before = (proj / "baseline.yml").read_text()
    _duplicate_key(lake)
    with pytest.raises(MMHealthError, match=r"fails \d+ invariant.*a baseline records an accepted build"):
        run_baseline(options(proj, lake, small_pipeline.manifest))
    assert (proj / "baseline.yml").read_text() == before


def test_a_mart_that_changes_while_the_gate_runs_is_refused(gated, small_pipeline, monkeypatch):
    from mmhealth.quality import runner

    lake, proj = gated
    real = runner._run_checkpoint

    def run_then_rebuild(*args, **kwargs):
        out = real(*args, **kwargs)
        _collapsed_label(lake)  # a dbt run lands between the gate's two reads
        return out

    monkeypatch.setattr(runner, "_run_checkpoint", run_then_rebuild)
    with pytest.raises(MMHealthError, match="changed while the gate ran"):
        check(proj, lake, small_pipeline.manifest, checkpoint="features_only")


def restated_structure(raw, contracts) -> list[str]:
    """Where a hand-written YAML restates what the dbt models hold: a structural key, a column mapped to a type, or
    a list naming a large part of one mart's columns (a column list, whatever its key)."""
    from mmhealth.quality.spec import STRUCTURAL_KEYS

    type_names = {t.lower() for c in contracts.values() for t in c.columns.values()} | {
        "string", "integer", "int", "float", "number", "boolean", "bool", "date", "timestamp", "text"}
    all_columns = {col for c in contracts.values() for col in c.columns}
    problems: list[str] = []

    def walk(node, path):
        if isinstance(node, dict):
            for k, v in node.items():
                here = f"{path}.{k}"
                if str(k) in STRUCTURAL_KEYS:
                    problems.append(f"{here}: structure belongs in the dbt model YAML")
                if str(k) in all_columns and isinstance(v, str) and v.lower() in type_names:
                    problems.append(f"{here}: a column type")
                walk(v, here)
        elif isinstance(node, list):
            named = {v for v in node if isinstance(v, str) and v in all_columns}
            for c in contracts.values():
                if len(named & set(c.columns)) >= max(8, len(c.columns) // 2):
                    problems.append(f"{path}: a list of {c.name}'s columns")
            for v in node:
                walk(v, path)

    walk(raw, "")
    return problems


def test_no_column_list_or_type_is_written_by_hand_in_expectations(project, small_pipeline):
    """Columns, types, keys and not-null live in the dbt YAML only. The hand-written gate.yml restates none of them;
    every other file under expectations/ is generated (gx/, checked by the stale test; baseline.yml, by the demo
    test) or the plugin's code, which names no mart column."""
    from mmhealth.quality.contract import load_contracts
    from mmhealth.quality.spec import load_spec

    contracts = load_contracts(small_pipeline.manifest, load_spec(project / "gate.yml").marts)
    assert restated_structure(yaml.safe_load((project / "gate.yml").read_text()), contracts) == []

    generated = set(project_files(load_sources(options(project, project, small_pipeline.manifest))))
    columns = {col for c in contracts.values() for col in c.columns if "_" in col}
    for path in sorted(p for p in project.rglob("*") if p.is_file() and "uncommitted" not in p.parts
                       and "__pycache__" not in p.parts):
        rel = path.relative_to(project).as_posix()
        if rel in ("gate.yml", "baseline.yml", "gx/.gitignore") or rel.removeprefix("gx/") in generated:
            continue
        assert rel.startswith("gx/plugins/"), f"expectations/{rel}: neither generated nor gate.yml nor plugin code"
        named = sorted(c for c in columns if re.search(rf"\b{c}\b", path.read_text()))
        assert named == [], f"expectations/{rel} names mart columns {named}"


def test_the_structure_check_catches_a_column_list_and_a_type():
    """The check above can fail: the old gate.yml's hand-kept schema, and a list of watched columns."""
    from mmhealth.quality.contract import MartContract

    cols = {f"c{i}_x": "double" for i in range(20)} | {"k": "varchar"}
    contracts = {"m": MartContract("m", "s", cols)}
    typed = {"marts": {"m": {"columns": {"k": "string", "c1_x": "float"}}}}
    watched = {"invariants": {"m": {"watch": [f"c{i}_x" for i in range(12)]}}}
    assert restated_structure(typed, contracts) == [".marts.m.columns: structure belongs in the dbt model YAML",
                                                    ".marts.m.columns.k: a column type",
                                                    ".marts.m.columns.c1_x: a column type"]
    assert restated_structure(watched, contracts) == [".invariants.m.watch: a list of m's columns"]


def test_gate_yml_refuses_restated_structure():
    from mmhealth.quality.spec import parse_spec

    raw = {"checkpoints": {"c": {"marts": ["m"]}}, "invariants": {"m": {"not_null": ["k"]}}}
    with pytest.raises(MMHealthError, match="invariants.m.not_null: columns, types, keys and not-null come from"):
        parse_spec(raw)
    raw = {"checkpoints": {"c": {"marts": ["m"]}}, "invariants": {"m": {"columns": {"k": "string"}}}}
    with pytest.raises(MMHealthError, match="invariants.m.columns"):
        parse_spec(raw)


def test_a_rule_naming_a_column_the_contract_lacks_is_refused(small_pipeline, tmp_path):
    proj = copy_project(tmp_path / "proj")
    gate = proj / "gate.yml"
    gate.write_text(gate.read_text().replace("latest_bmi: [10, 80]", "latest_bmi_kg: [10, 80]"))
    with pytest.raises(MMHealthError, match=r"invariants.patient_360 names \['latest_bmi_kg'\], not columns"):
        load_sources(options(proj, proj, small_pipeline.manifest))


def test_a_second_check_on_the_same_lake_waits_its_turn(gated, small_pipeline):
    import fcntl

    lake, proj = gated
    with open(lake / "quality" / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        with pytest.raises(MMHealthError, match="another quality check is running"):
            check(proj, lake, small_pipeline.manifest)
