"""The stages agree with each other: what the generator wrote is what the lake holds and what the marts count."""

import json

import duckdb


def test_every_generated_patient_reaches_patient_360(small_pipeline):
    manifest = json.loads((small_pipeline.data / "manifest.json").read_text())
    patient_ids = {json.loads(line)["id"] for line in (small_pipeline.data / "fhir" / "Patient.ndjson").open()}
    with duckdb.connect(str(small_pipeline.warehouse), read_only=True) as con:
        schemas = dict(con.execute(
            "select table_name, table_schema from information_schema.tables where table_name = 'patient_360'"
        ).fetchall())
        n, clinical, genomic, imaging = con.execute(
            f"select count(*), count(*) filter (has_clinical), count(*) filter (has_genomics), "
            f"count(*) filter (has_imaging) from {schemas['patient_360']}.patient_360"
        ).fetchone()
    assert n == len(patient_ids) == manifest_count(manifest, "patients")
    assert clinical == len(patient_ids)
    assert genomic == len(list((small_pipeline.data / "dna").glob("*_dna.vcf.gz")))
    assert imaging == len({s["patient_id"] for s in manifest["imaging"]})


def manifest_count(manifest: dict, key: str) -> int:
    """The generator's own count of `key`, wherever the manifest keeps it."""
    for holder in (manifest, manifest.get("counts", {}), manifest.get("config", {})):
        if isinstance(holder.get(key), int):
            return holder[key]
    raise KeyError(f"manifest has no count of {key}: keys {sorted(manifest)}")
