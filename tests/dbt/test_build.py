"""`dbt build` on generated data: everything green, every mart documented and classified, keys pseudonymous, the
cross-modal marts consistent with what the generator wrote (its manifest.json)."""

from __future__ import annotations

import hashlib
import json

import pytest

from dbt_testkit import REPO, connect
from mmhealth.manifest import doc_blocks, models_from_yaml

MARTS = "mmhealth_marts"
SENSITIVITY = {"phi", "internal", "public"}


@pytest.fixture(scope="module")
def manifest(small_pipeline) -> dict:
    return json.loads(small_pipeline.manifest.read_text())


@pytest.fixture(scope="module")
def wh(small_pipeline):
    con = connect(small_pipeline.warehouse)
    yield con
    con.close()


def own_models(manifest: dict) -> dict[str, dict]:
    """Models of this project outside models/semantic (which the dashboards stage owns)."""
    return {n["name"]: n for n in manifest["nodes"].values()
            if n["resource_type"] == "model" and not n["original_file_path"].startswith("models/semantic/")}


def test_build_is_green_with_unit_singular_and_generic_tests(small_pipeline):
    results = json.loads((small_pipeline.target_path / "run_results.json").read_text())["results"]
    bad = [(r["unique_id"], r["status"]) for r in results if r["status"] not in ("success", "pass", "no-op")]
    assert not bad
    ids = [r["unique_id"] for r in results]
    assert sum(i.startswith("unit_test.") for i in ids) >= 8
    assert sum(i.startswith("test.") for i in ids) >= 100
    for singular in ("engine_macros_behave", "patient_360_reconciles_with_lake"):
        assert any(i.startswith(f"test.mmhealth.{singular}") for i in ids), singular


def test_the_first_build_logs_no_dbt_warning(small_pipeline):
    """The demo shows dbt's warnings: a clean build has none (e.g. no partitioning DuckDB would ignore)."""
    log = (small_pipeline.root / "logs" / "dbt.log").read_text(errors="replace").splitlines()
    first_build = log[:next(i for i, line in enumerate(log) if "Done. PASS=" in line) + 1]
    warnings = [line for line in first_build if "[warn " in line]
    assert not warnings, "\n".join(warnings[:5])


def test_every_model_and_column_is_described(manifest, wh):
    models = own_models(manifest)
    assert len(models) >= 40
    for name, node in models.items():
        assert node["description"].strip(), f"{name} has no description"
        built = {c for (c,) in wh.execute(
            "select column_name from information_schema.columns where table_name = ?", [name]).fetchall()}
        documented = {c for c, spec in node["columns"].items() if spec["description"].strip()}
        assert built, f"{name} was not built"
        assert built <= documented, f"{name}: undocumented columns {sorted(built - documented)}"



def test_doc_blocks_render_into_the_manifest_and_the_yaml_fallback(manifest):
    """dbt renders {{ doc('...') }} into each column's description; the reader used without a parsed project
    (models_from_yaml) renders the same text for every model and column."""
    blocks = doc_blocks(REPO / "models")
    key_text = ("Pseudonymous patient key: keyed hash of the FHIR patient id (secret pseudonym key, "
                "docs/governance.md).")
    assert blocks["patient_key"] == key_text
    keyed = [n for n in manifest["nodes"].values() if n["resource_type"] == "model" and "patient_key" in n["columns"]]
    assert len(keyed) >= 15
    for node in keyed:
        assert node["columns"]["patient_key"]["description"] == key_text, node["name"]
    for name in ("source_lake_run", "source_last_updated_at", "contig"):
        users = [n for n in own_models(manifest).values() if f"doc.mmhealth.{name}" in
                 " ".join(str(b) for c in n["columns"].values() for b in c.get("doc_blocks") or [])]
        assert users, name
        for node in users:
            assert node["columns"][name]["description"] == blocks[name], (node["name"], name)

    def norm(text: str) -> str:
        return " ".join(text.split())

    fallback = models_from_yaml(REPO / "models")
    for node in (n for n in manifest["nodes"].values() if n["resource_type"] == "model"):
        model = fallback.model(node["name"])
        assert norm(model.description) == norm(node["description"]), node["name"]
        by_name = {c.name: c for c in model.columns}
        for col, spec in node["columns"].items():
            assert norm(by_name[col].description) == norm(spec["description"]), f"{node['name']}.{col}"


def test_every_mart_column_is_classified_and_contracted(manifest):
    marts = {n: m for n, m in own_models(manifest).items() if m["original_file_path"].startswith("models/marts/")}
    expected = {"dim_patient", "fct_encounter", "fct_condition", "fct_observation", "fct_procedure", "fct_medication",
                "fct_claim", "fct_variant_call", "fct_variant_clinvar", "patient_genomic_summary", "dim_imaging_study",
                "fct_radiomics", "patient_360", "population_clinical", "population_genomic", "population_imaging",
                "patient_timeline", "features_cardiovascular"}
    assert expected <= set(marts)
    for name, node in marts.items():
        assert node["config"]["contract"]["enforced"], name
        for col, spec in node["columns"].items():
            assert spec["meta"].get("sensitivity") in SENSITIVITY, f"{name}.{col}"
            assert spec.get("data_type"), f"{name}.{col} has no contract type"
    # the raw id and exact dates are PHI; population marts only hold suppressed aggregates
    assert marts["dim_patient"]["columns"]["patient_id"]["meta"]["sensitivity"] == "phi"
    assert marts["dim_patient"]["columns"]["birth_date"]["meta"]["sensitivity"] == "phi"
    assert {c["meta"]["sensitivity"] for c in marts["population_clinical"]["columns"].values()} == {"public"}
    assert not any("patient_id" in marts[m]["columns"] for m in expected - {"dim_patient"})


def test_athena_configs_iceberg_marts_merge_facts_persist_docs(manifest):
    models = own_models(manifest)
    for name, node in models.items():
        cfg = node["config"]
        assert cfg["persist_docs"] == {"relation": True, "columns": True}, name
        if node["original_file_path"].startswith("models/marts/"):
            assert cfg["table_type"] == "iceberg", name
    # the facts insert new resources and merge held ones on DuckDB, probed on their id (macros/incremental.sql);
    # Athena merges (test_athena.py)
    for fact in ("fct_encounter", "fct_condition", "fct_observation", "fct_procedure", "fct_medication", "fct_claim",
                 "patient_timeline"):
        cfg = models[fact]["config"]
        assert cfg["materialized"] == "incremental" and cfg["incremental_strategy"] == "mmh_merge", fact
        assert cfg["unique_key"] and not cfg.get("merge_probe"), fact
    # the genome tables insert new samples and merge held ones, probed on the sample (patient)
    for table, probe in (("stg_omics__variant_calls", ["sample_id"]), ("fct_variant_call", ["patient_key"]),
                         ("fct_variant_clinvar", ["patient_key"])):
        cfg = models[table]["config"]
        assert cfg["materialized"] == "incremental" and cfg["incremental_strategy"] == "mmh_merge", table
        assert cfg["unique_key"] and cfg["merge_probe"] == probe, table
    # DuckDB tables have no partitions: none is configured, so dbt-duckdb has nothing to warn about ("only
    # supported for DuckLake relations; ignoring"); the Athena manifest keeps them (test_athena.py).
    assert models["fct_observation"]["config"].get("partitioned_by") is None


def test_exposures_for_dashboards_and_feature_group(manifest):
    exposures = {e["name"]: e for e in manifest["exposures"].values()}
    assert {"quicksight_population_dashboard", "quicksight_patient_dashboard",
            "sagemaker_feature_group_cardiovascular"} <= set(exposures)
    assert "model.mmhealth.features_cardiovascular" in exposures["sagemaker_feature_group_cardiovascular"]["depends_on"]["nodes"]


def test_patient_key_is_the_keyed_hash_of_the_fhir_id(wh, pseudonym_key_file):
    pairs = wh.execute(f"select patient_id, patient_key from {MARTS}.dim_patient").fetchall()
    assert len(pairs) == 150
    key = pseudonym_key_file.read_text().strip()  # read here, not through mmhealth.pseudonym: an independent check

    def keyed(pid: str) -> str:
        inner = hashlib.sha256(f"{key}:{pid}".encode()).hexdigest()
        return hashlib.sha256(f"{key}:{inner}".encode()).hexdigest()

    assert all(k == keyed(p) for p, k in pairs)
    assert all(k != hashlib.sha256(p.encode()).hexdigest() for p, k in pairs)  # not an unkeyed hash
    assert len({k for _, k in pairs}) == len(pairs)


def test_patient_360_modalities_match_the_generator(small_pipeline, wh):
    gen = json.loads((small_pipeline.data / "manifest.json").read_text())
    counts = wh.execute(f"""
        select count(*), count(*) filter (where has_clinical), count(*) filter (where has_genomics),
               count(*) filter (where has_imaging), count(*) filter (where n_modalities = 3)
        from {MARTS}.patient_360""").fetchone()
    assert counts[:4] == (gen["counts"]["patients"], gen["counts"]["patients"], gen["counts"]["genomes"],
                          gen["counts"]["imaging_studies"])
    assert counts[4] > 0
    # every generated imaging study is linked FHIR <-> DICOM on the urn:oid: identifier, same patient on both sides
    linked = wh.execute(f"""select count(*) from {MARTS}.dim_imaging_study
                            where has_fhir_record and has_dicom and patient_ids_agree""").fetchone()[0]
    assert linked == gen["counts"]["imaging_studies"]


def test_variants_match_clinvar_across_contig_naming(wh):
    # generated VCFs say chr1.., ClinVar says 1..: matches exist only if contigs were normalized
    n, genes, ranks = wh.execute(f"""select count(*), count(distinct gene_symbol), count(distinct significance_rank)
                                    from {MARTS}.fct_variant_clinvar""").fetchone()
    assert n > 0 and genes > 3 and ranks > 2
    apoe = dict(wh.execute(f"select apoe_genotype, count(*) from {MARTS}.patient_genomic_summary group by 1").fetchall())
    assert apoe.get("e3/e3", 0) > 0 and sum(apoe.values()) == 90


def test_features_respect_the_index_date_and_horizon(wh):
    row = wh.execute(f"""
        select count(*), max(index_date), min(label_window_end_date - index_date), max(label_window_end_date - index_date),
               count(*) filter (where hypertension), count(*) filter (where prior_hypertension)
        from {MARTS}.features_cardiovascular""").fetchone()
    n, max_index, min_window, max_window, htn, prior_htn = row
    assert n > 100
    assert str(max_index) <= "2021-01-01"
    assert min_window == max_window == 1461
    assert htn > 0 and prior_htn > 0


def test_population_marts_suppress_small_cells(wh):
    for mart, cols in {
        "population_clinical": ["patient_count"],
        "population_genomic": ["carrier_count", "carriers_with_stroke", "carriers_with_hypertension",
                               "carriers_with_coronary_heart_disease", "carriers_with_alzheimers"],
        "population_imaging": ["n_patients"],
    }.items():
        for col in cols:
            small = wh.execute(f"select count(*) from {MARTS}.{mart} where {col} between 1 and 10").fetchone()[0]
            assert small == 0, f"{mart}.{col} shows a count below 11"
        flagged = wh.execute(f"select count(*) from {MARTS}.{mart} where is_suppressed").fetchone()[0]
        nulls = wh.execute(f"select count(*) from {MARTS}.{mart} where {cols[0]} is null").fetchone()[0]
        assert flagged >= nulls
    assert wh.execute(f"select count(*) from {MARTS}.population_clinical where is_suppressed").fetchone()[0] > 0
