"""Acceptance on a real deployment's data: the real files of ../shared/testdata - Synthea bulk NDJSON and transaction
Bundles, VCFs, DICOM; ids not linked across modalities - ingested into one lake and built with dbt. `quality
baseline` makes this deployment's profile, `quality check` then passes and `features publish` writes a version; a
defect injected after the baseline (a key duplicated, a completeness share halved, a suppressed cell revealed) fails
the gate and publishing refuses. `train` on what was published says what the data cannot support."""

from __future__ import annotations

import json

import pytest
import yaml
from gatekit import BIN, MARTS, REPO, copy_lake, copy_project, dbt_build, run, sql

from mmhealth.quality.baseline import load_baseline

MMHEALTH = str(BIN / "mmhealth")
FC = "features_cardiovascular"
# Every modality's real files, each folder through `mmhealth ingest` into the same lake. (sql-on-fhir/ holds test
# suites of view definitions, not patient data; imaging-nrrd/ holds volumes ingest does not read.)
MODALITY_FOLDERS = ("fhir", "vcf", "dicom")


@pytest.fixture(scope="module")
def real(testdata, tmp_path_factory):
    root = tmp_path_factory.mktemp("real")
    lake, target = root / "lake", root / "target"
    for folder in MODALITY_FOLDERS:
        run(lake, MMHEALTH, "ingest", str(testdata / folder), "--lake", str(lake), "--quiet", "--jobs", "2")
    dbt_build(lake, target)
    manifest = target / "manifest.json"
    proj = copy_project(root / "expectations")
    out = run(lake, MMHEALTH, "quality", "baseline", "--project", str(proj), "--manifest", str(manifest),
              "--dbt-project", str(REPO / "dbt_project.yml"))
    assert "review the diff and commit it" in out.stdout
    return lake, proj, manifest


def _fhir_patients(testdata) -> set[str]:
    """Patient ids counted with plain json, not project code."""
    ids = set()
    for path in sorted((testdata / "fhir" / "bulk-ndjson").glob("*.ndjson")):
        for line in path.read_text().splitlines():
            res = json.loads(line) if line.strip() else {}
            if res.get("resourceType") == "Patient":
                ids.add(res["id"])
    for path in sorted((testdata / "fhir" / "synthea-bundles").glob("*.json")):
        for entry in json.loads(path.read_text()).get("entry", []):
            if (entry.get("resource") or {}).get("resourceType") == "Patient":
                ids.add(entry["resource"]["id"])
    return ids


def _check(lake, proj, manifest):
    return run(lake, MMHEALTH, "quality", "check", "--project", str(proj), "--manifest", str(manifest),
               "--dbt-project", str(REPO / "dbt_project.yml"), "--json", "--no-docs", check=False)


def _publish(lake, manifest):
    return run(lake, MMHEALTH, "features", "publish", "--to", "local", "--manifest", str(manifest), check=False)


def test_the_real_build_passes_its_own_baseline_and_publishes(real, testdata):
    lake, proj, manifest = real
    baseline = yaml.safe_load((proj / "baseline.yml").read_text())
    clinical = sql(lake, f"select count(*) filter (has_clinical), count(*) filter (has_genomics), "
                         f"count(*) filter (has_imaging) from {MARTS}.patient_360")[0]
    assert clinical[0] == len(_fhir_patients(testdata)) and clinical[1] > 0 and clinical[2] > 0  # all three
    assert baseline["marts"]["patient_360"]["rows"]["value"] == sql(lake, f"select count(*) from {MARTS}.patient_360")[0][0]

    check = _check(lake, proj, manifest)
    assert check.returncode == 0, check.stdout[-3000:] + check.stderr
    result = json.loads(check.stdout)
    assert result["success"] and all(m["validations"]["profile"] == "passed" for m in result["marts"].values())

    pub = _publish(lake, manifest)
    assert pub.returncode == 0, pub.stderr
    rows = sql(lake, f"select count(*) from {MARTS}.{FC}")[0][0]
    assert f"<- {rows} rows gated by quality run {result['run_id']}" in pub.stdout
    assert (lake / "feature_store" / "mmhealth-features-cardiovascular" / "v1" / "data.parquet").exists()


def test_the_demo_baseline_would_fail_this_deployment_for_its_population_not_its_build(real):
    """Why a deployment makes its own baseline: against the demo's bands this build fails profile expectations only
    - every invariant holds."""
    lake, proj, manifest = real
    demo = copy_project(proj.parent / "expectations-demo-baseline")  # the repository's, with the demo's baseline
    result = json.loads(_check(lake, demo, manifest).stdout)
    assert not result["success"]
    assert {f["check"].split(":")[0] for f in result["failures"]} == {"profile"}


def _most_complete_column(proj, mart):
    cols = load_baseline(proj / "baseline.yml").marts[mart].columns
    share, col = max((s["non_null_share"].value, c) for c, s in cols.items() if "non_null_share" in s)
    assert share >= 0.5, f"{mart} has no column complete enough to halve"
    return col


def _duplicate_key(lake, proj):
    sql(lake, f"insert into {MARTS}.{FC} select * from {MARTS}.{FC} limit 1")
    return "key"


def _halve_completeness(lake, proj):
    col = _most_complete_column(proj, FC)
    sql(lake, f"""update {MARTS}.{FC} set {col} = null where patient_key in (
                  select patient_key from {MARTS}.{FC} where {col} is not null order by patient_key
                  limit (select (count({col}) + 1) // 2 from {MARTS}.{FC}))""")
    return "profile:completeness"


def _reveal_small_cell(lake, proj):
    mart, col = next((m, c) for m, c in (("population_imaging", "n_patients"), ("population_clinical", "patient_count"))
                     if sql(lake, f"select count(*) from {MARTS}.{m} where is_suppressed and {c} is null")[0][0])
    sql(lake, f"update {MARTS}.{mart} set {col} = 4 where rowid = (select min(rowid) from {MARTS}.{mart} "
              f"where is_suppressed and {col} is null)")
    return "small_cell"


@pytest.mark.parametrize("damage", [_duplicate_key, _halve_completeness, _reveal_small_cell],
                         ids=["duplicated_key", "halved_completeness", "revealed_small_cell"])
def test_a_defect_after_the_baseline_fails_the_gate_and_publish_refuses(real, tmp_path, damage):
    lake, proj, manifest = real
    lake = copy_lake(lake, tmp_path / "lake")
    expected = damage(lake, proj)

    check = _check(lake, proj, manifest)
    assert check.returncode == 1, check.stdout[-2000:] + check.stderr
    result = json.loads(check.stdout)
    assert expected in {f["check"] for f in result["failures"]}, result["failures"]
    pub = _publish(lake, manifest)
    assert pub.returncode == 1 and "FAILED" in pub.stderr and "Traceback" not in pub.stderr


def test_train_on_the_published_real_features_says_what_it_cannot_do(real, tmp_path):
    lake, proj, manifest = real
    lake = copy_lake(lake, tmp_path / "lake")
    assert _check(lake, proj, manifest).returncode == 0 and _publish(lake, manifest).returncode == 0
    out = run(lake, MMHEALTH, "train", "--out", str(tmp_path / "run"), "--repeats", "1", "--bootstrap", "50",
              "--trees", "10", "--quiet", "--manifest", str(manifest), check=False)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr[-2000:]
    assert "no cell could be evaluated" in out.stdout and "too few positives" in out.stdout
    assert "docs/ml.md#labels-and-the-data-end" in out.stdout and "expectations/baseline.yml" in out.stdout
