"""The generator's output with `--corrupt`: every injected corruption quarantined with a reason naming it,
every other record loaded; and the reference system's own queries on the lake."""

from __future__ import annotations

import gzip
import json
from collections import Counter

import pysam

from .conftest import cli, connect

# corruption kind -> what the quarantine reason must say
REASON_FOR_KIND = {
    "malformed_json": "malformed-json",
    "missing_id": "missing-id",
    "unknown_resource_type": "unknown-resource-type",
    "vcf_wrong_column_count": "columns",
    "vcf_ref_mismatch": "ref-mismatch",
}


def test_every_corruption_is_quarantined_with_its_reason(generated_lake, corruptions):
    lake, report = generated_lake
    assert set(REASON_FOR_KIND) <= {c["kind"] for c in corruptions}  # every kind was injected
    rows = connect(lake).execute("SELECT lake_source, position, reason FROM lake_meta.quarantine").fetchall()
    by_place = {(src, pos): reason for src, pos, reason in rows}
    for c in corruptions:
        reason = by_place.get((c["file"], f"line {c['position']}"))
        assert reason is not None, c
        assert REASON_FOR_KIND[c["kind"]] in reason, (c, reason)
    assert len(rows) == len(corruptions)  # and nothing else
    assert report.quarantined == len(corruptions)


def test_every_other_record_is_loaded(generated, generated_lake, corruptions):
    lake, report = generated_lake
    bad = {(c["file"], c["position"]) for c in corruptions}
    con = connect(lake)
    expected: Counter = Counter()
    for path in sorted((generated / "fhir").glob("*.ndjson")):
        rel = path.relative_to(generated).as_posix()
        for lineno, line in enumerate(path.read_text().splitlines(), start=1):
            if line.strip() and (rel, lineno) not in bad:
                expected[(rel, json.loads(line)["resourceType"].lower())] += 1
    actual: Counter = Counter()
    for (table,) in con.execute("SELECT table_name FROM information_schema.tables "
                                "WHERE table_schema = 'healthlake'").fetchall():
        for src, n in con.execute(f"SELECT lake_source, count(*) FROM healthlake.{table} GROUP BY 1").fetchall():
            actual[(src, table)] = n
    assert actual == expected
    # VCF: data lines that were not corrupted, one sample per file.
    variants = dict(con.execute("SELECT lake_source, count(*) FROM omics.variants GROUP BY 1").fetchall())
    for path in sorted((generated / "dna").glob("*.vcf.gz")):
        rel = path.relative_to(generated).as_posix()
        with gzip.open(path, "rt") as fh:
            good = sum(1 for i, ln in enumerate(fh, start=1) if not ln.startswith("#") and (rel, i) not in bad)
        assert variants[rel] == good, rel
    for m in report.modalities.values():
        assert m.read == m.loaded + m.quarantined + m.skipped


def test_max_bad_exit_code_and_json_summary(generated, tmp_path, corruptions):
    lake = tmp_path / "lake"
    ref = generated / "reference" / "panel.fa"
    proc = cli("ingest", str(generated), "--lake", str(lake), "--modality", "fhir,genomics", "--reference",
               str(ref), "--json", "--max-bad", str(len(corruptions) - 1), check=False)
    assert proc.returncode == 3, proc.stderr
    doc = json.loads(proc.stdout)
    assert set(doc["modalities"]) == {"fhir", "genomics"}
    for m in doc["modalities"].values():
        assert m["read"] == m["loaded"] + m["quarantined"] + m["skipped"]
    assert sum(m["quarantined"] for m in doc["modalities"].values()) == len(corruptions)
    assert doc["tables"]["lake_meta.quarantine"] == len(corruptions)
    again = cli("ingest", str(generated), "--lake", str(lake), "--modality", "fhir,genomics", "--json",
                "--max-bad", str(len(corruptions) - 1), check=False)
    assert again.returncode == 0  # nothing new was read, so nothing new was quarantined


def test_reference_query_patient_condition(generated, generated_lake):
    """The reference system's query, with only the catalog prefix changed."""
    lake, _ = generated_lake
    patients = set()
    for line in (generated / "fhir/Patient.ndjson").read_text().splitlines():
        try:
            res = json.loads(line)
        except ValueError:
            continue
        if res.get("resourceType") == "Patient" and res.get("id"):
            patients.add(res["id"])
    expected = Counter()
    for line in (generated / "fhir/Condition.ndjson").read_text().splitlines():
        try:
            res = json.loads(line)
        except ValueError:
            continue
        if res.get("resourceType") == "Condition" and res.get("id"):
            pid = res["subject"]["reference"].removeprefix("Patient/")
            if pid in patients:
                expected[(pid, res["code"]["coding"][0]["code"])] += 1
    rows = connect(lake).execute(
        "SELECT p.id, c.code.coding[1].code FROM healthlake.patient p "
        "JOIN healthlake.condition c ON c.subject.reference = concat('Patient/', p.id)").fetchall()
    assert Counter(rows) == expected and expected


def test_reference_query_variants_annotations(generated, generated_lake, corruptions):
    """variants JOIN annotations on contig/start/ref/alt: VCFs say chr1, ClinVar says 1."""
    lake, _ = generated_lake
    bad = {(c["file"], c["position"]) for c in corruptions}
    with pysam.VariantFile(str(generated / "annotation/clinvar.vcf.gz")) as vf:
        clinvar = {(r.contig, r.pos, r.ref, tuple(r.alts)): ",".join(r.info["CLNSIG"]) for r in vf}
    expected = Counter()
    for path in sorted((generated / "dna").glob("*.vcf.gz")):
        rel = path.relative_to(generated).as_posix()
        with gzip.open(path, "rt") as fh:
            for lineno, line in enumerate(fh, start=1):
                if line.startswith("#") or (rel, lineno) in bad:
                    continue
                cols = line.rstrip("\n").split("\t")
                key = (cols[0].removeprefix("chr"), int(cols[1]), cols[3], tuple(cols[4].split(",")))
                if key in clinvar:
                    expected[(path.name.removesuffix("_dna.vcf.gz"), clinvar[key])] += 1
    rows = connect(lake).execute(
        "SELECT v.sampleid, a.attributes['CLNSIG'], a.attributes['GENEINFO'] FROM omics.variants v "
        "JOIN omics.annotations a ON regexp_replace(v.contigname, '^chr', '') = regexp_replace(a.contigname, '^chr', '') "
        "AND v.start = a.start AND v.referenceallele = a.referenceallele "
        "AND v.alternatealleles = a.alternatealleles").fetchall()
    assert Counter((s, sig) for s, sig, _ in rows) == expected and expected
    assert any(gene for _, _, gene in rows)


def test_the_variant_store_is_one_part_per_run_not_one_per_vcf(generated, generated_lake):
    """Each VCF is read into its own part; the commit coalesces them, so queries open one file, not one per genome."""
    from mmhealth.lake.manifest import Manifest

    lake, _ = generated_lake
    manifest = Manifest.from_json((lake / "_lake" / "manifest.json").read_text())
    parts = manifest.tables["omics.variants"]
    vcfs = sorted(str(p.relative_to(generated)) for p in generated.rglob("*.vcf*") if "annotation" not in p.parts)
    assert len(parts) == 1 and len(vcfs) > 1
    assert parts[0].sources == [v for v in vcfs if v in parts[0].sources] and len(parts[0].sources) >= len(vcfs) - 2
    sql = connect(lake).execute("select sql from duckdb_views() where view_name = 'variants'").fetchone()[0]
    assert "union_by_name" not in sql
