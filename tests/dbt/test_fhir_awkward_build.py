"""What the lake accepts, dbt builds (issue 15): the real Synthea files of ../shared/testdata/fhir plus every awkward
FHIR case of tests/fhir_awkward.py (deep resources, duplicated ids, strings in numeric fields, BOMs, lineage keys,
numeric ids) in one lake, then the whole project is built and tested. Before, the duplicates failed the unique tests
and the strings failed the build with a conversion error, skipping most marts. Expected values come from reading the
awkward files with plain `json`."""

from __future__ import annotations

import json
import subprocess

import pytest

from dbt_testkit import BIN, REPO, connect, dbt_env
from fhir_awkward import independent_fates, write_awkward_fhir


def _ingest(source, lake) -> None:
    proc = subprocess.run([str(BIN / "mmhealth"), "ingest", str(source), "--lake", str(lake), "--modality", "fhir",
                           "--quiet"], cwd=REPO, env=dbt_env(lake), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


@pytest.fixture(scope="module")
def awkward_build(testdata, dbt_scratch, alt_lakes):
    root = dbt_scratch / "awkward-fhir-src"
    folder = write_awkward_fhir(root)
    lake = dbt_scratch / "awkward-fhir-lake"
    _ingest(testdata / "fhir", lake)
    _ingest(root, lake)  # files land at awkward/<name>, beside the real ones
    result = alt_lakes.dbt(lake, "build", "--exclude", "path:models/semantic")
    return folder, lake, result


def _resources(folder, rtype: str) -> list[tuple[str, int, dict]]:
    """(file, ordinal in the file, resource) for every parseable resource of `rtype` in the awkward files."""
    out = []
    for path in sorted(folder.iterdir()):
        raw = path.read_bytes().removeprefix(b"\xef\xbb\xbf").decode()
        try:
            if path.suffix == ".ndjson":
                records = [json.loads(line) for line in raw.splitlines() if line.strip()]
            else:
                records = [e.get("resource") for e in json.loads(raw)["entry"]]
        except RecursionError:
            continue  # the too-deep files hold no resources of the types checked here
        for n, res in enumerate(records, start=1):
            if isinstance(res, dict) and res.get("resourceType") == rtype and isinstance(res.get("id"), str) \
                    and res["id"]:
                out.append((path.name, n, res))
    return out


def _current(folder, rtype: str) -> dict[str, dict]:
    """The current version of each id by the documented rule (newest meta.lastUpdated, then the last source path,
    then the later record of the file; one ingest run holds all awkward files)."""
    best: dict[str, tuple] = {}
    for name, n, res in _resources(folder, rtype):
        key = ((res.get("meta") or {}).get("lastUpdated", ""), name, n)
        if res["id"] not in best or key > best[res["id"]][0]:
            best[res["id"]] = (key, res)
    return {rid: res for rid, (_, res) in best.items()}


def test_the_whole_project_builds_over_the_awkward_lake(awkward_build):
    _, _, result = awkward_build
    summary = result.stdout.split("Done.")[-1]
    assert "ERROR=0" in summary and "SKIP=0" in summary, summary


def test_one_current_row_per_id_by_the_documented_rule(awkward_build):
    folder, lake, _ = awkward_build
    expected = {rid: res["valueQuantity"]["value"] for rid, res in _current(folder, "Observation").items()
                if rid.startswith("dup-")}
    assert set(expected) == {"dup-in-file", "dup-across", "dup-in-bundle"}
    assert expected["dup-in-file"] == 2.0 and expected["dup-in-bundle"] == 6.0  # the later copy in its file
    con = connect(lake / "warehouse.duckdb")
    got = dict(con.execute("select observation_id, value_numeric from mmhealth_staging.stg_fhir__observation "
                           "where observation_id like 'dup-%'").fetchall())
    assert got == expected
    marts = dict(con.execute("select observation_id, count(*) from mmhealth_marts.fct_observation "
                             "where observation_id like 'dup-%' group by 1").fetchall())
    assert marts == {rid: 1 for rid in expected}


def _text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def test_values_of_the_wrong_type_are_null_and_kept_visible(awkward_build):
    folder, lake, _ = awkward_build
    con = connect(lake / "warehouse.duckdb")
    observations = _current(folder, "Observation")
    got = {r[0]: r[1:] for r in con.execute(
        "select observation_id, value_numeric, value_numeric_invalid from mmhealth_staging.stg_fhir__observation "
        "where observation_id in ('str-value', 'late-str', 'num-value')").fetchall()}
    for rid in ("str-value", "late-str"):
        source = observations[rid]["valueQuantity"]["value"]
        assert isinstance(source, str)
        numeric, invalid = got[rid]
        assert numeric is None and invalid.strip('"') == source, (rid, got[rid])
    assert got["num-value"] == (observations["num-value"]["valueQuantity"]["value"], None)
    components = con.execute("select component_index, value_numeric, value_numeric_invalid "
                             "from mmhealth_staging.stg_fhir__observation_component "
                             "where observation_id = 'str-component' order by 1").fetchall()
    source = [c["valueQuantity"]["value"] for c in observations["str-component"]["component"]]
    assert [(i, v) for i, v, _ in components] == [(1, None), (2, float(source[1]))]
    assert components[0][2].strip('"') == source[0]
    claims = {r[0]: r[1:] for r in con.execute("select claim_id, total_amount, total_amount_invalid "
                                               "from mmhealth_staging.stg_fhir__claim where claim_id like 'claim-%'")
              .fetchall()}
    source_claims = _current(folder, "Claim")
    assert claims["claim-str"][0] is None
    assert claims["claim-str"][1].strip('"') == source_claims["claim-str"]["total"]["value"]
    assert claims["claim-num"] == (source_claims["claim-num"]["total"]["value"], None)
    studies = {r[0]: r[1:] for r in con.execute(
        "select imaging_study_id, number_of_series, number_of_series_invalid, number_of_instances, "
        "number_of_instances_invalid from mmhealth_staging.stg_fhir__imaging_study "
        "where imaging_study_id like 'is-%'").fetchall()}
    assert studies["is-str"][0] is None and studies["is-str"][1].strip('"') == "two"
    assert studies["is-str"][2] is None and studies["is-str"][3] == _text(7.5)
    assert studies["is-num"] == (2, None, 40, None)  # 40 stays an integer though its column holds 7.5 too
    patients = {r[0]: r[1:] for r in con.execute(
        "select patient_id, deceased_flag, deceased_flag_invalid from mmhealth_staging.stg_fhir__patient "
        "where patient_id in ('awk-p1', 'awk-p2')").fetchall()}
    assert patients["awk-p1"][0] is None and patients["awk-p1"][1].strip('"') == "yes"
    assert patients["awk-p2"] == (False, None)


def test_every_loadable_awkward_patient_reaches_the_patient_dimension(awkward_build):
    folder, lake, _ = awkward_build
    fates = independent_fates(folder)

    def fate(name: str, n: int) -> str:
        return fates[(name, f"line {n}" if name.endswith(".ndjson") else f"entry {n - 1}")]

    patients = _resources(folder, "Patient")
    loadable = {res["id"] for name, n, res in patients if fate(name, n) == "loaded"}
    refused = {res["id"] for name, n, res in patients if fate(name, n) != "loaded"}
    assert {"lin-2", "lin-3", "sur-bad"} <= refused  # lake_* keys, a lone surrogate
    con = connect(lake / "warehouse.duckdb")
    built = {r[0] for r in con.execute("select patient_id from mmhealth_marts.dim_patient").fetchall()}
    assert loadable <= built
    assert not refused & built
