"""Pure pieces of the readers and the lake, stated as data in, data out."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from mmhealth.ingest.fhir import bundle
from mmhealth.ingest.genomics.fasta import Reference
from mmhealth.ingest.fhir.schema import read_columns_literal, select_list, shape_columns
from mmhealth.ingest.records import EXCERPT_LIMIT, Quarantined
from mmhealth.ingest.genomics.vcf import read_header
from mmhealth.ingest.genomics.vcf_raw import attributes, info_entries
from mmhealth.lake.schema import hive_type, merge_fields


def test_bundle_resolves_urn_references_and_fills_ids_from_full_url():
    doc = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:p1", "resource": {"resourceType": "Patient"}},
        {"fullUrl": "urn:uuid:e1", "resource": {"resourceType": "Encounter", "id": "e1",
                                                 "subject": {"reference": "urn:uuid:p1"}}},
        {"fullUrl": "urn:uuid:c1", "resource": {"resourceType": "Condition", "id": "c1",
                                                 "subject": {"reference": "urn:uuid:p1"},
                                                 "evidence": [{"detail": [{"reference": "urn:uuid:e1"}]}],
                                                 "note": [{"text": "urn:uuid:p1"}]}},
        {"request": {"method": "DELETE", "url": "Patient/x"}},
    ]}
    entries = list(bundle.entries(doc))
    assert [e.problem for e in entries] == [None, None, None, "bundle-entry-without-resource"]
    assert entries[0].resource["id"] == "p1"
    assert entries[1].resource["subject"]["reference"] == "Patient/p1"
    assert entries[2].resource["evidence"][0]["detail"][0]["reference"] == "Encounter/e1"
    assert entries[2].resource["note"][0]["text"] == "urn:uuid:p1"  # only `reference` values are rewritten


def test_fhir_shapes_lowercase_keep_extensions_as_json_and_primitives_as_strings(tmp_path):
    src = tmp_path / "p.ndjson"
    src.write_text(
        '{"resourceType":"Patient","id":"a","birthDate":"1970-01-01","deceasedBoolean":false,'
        '"extension":[{"url":"u","valueString":"v"}],"name":[{"family":"F","given":["G"],'
        '"extension":[{"url":"x"}]}],"multipleBirthInteger":2}\n')
    con = duckdb.connect()
    rel = con.sql(f"SELECT * FROM read_json('{src}', sample_size=-1) LIMIT 0")
    shapes = {s.source_name: s for s in shape_columns(rel.columns, rel.types)}
    assert shapes["birthDate"].lake_type == "VARCHAR"  # DuckDB alone would say DATE
    assert shapes["id"].lake_type == "VARCHAR"
    assert shapes["extension"].lake_type == "JSON[]"
    assert shapes["deceasedBoolean"].lake_type == "BOOLEAN"
    assert shapes["multipleBirthInteger"].lake_type == "BIGINT"
    assert '"family" VARCHAR' in shapes["name"].lake_type and '"extension" JSON[]' in shapes["name"].lake_type
    row = con.execute(
        f"SELECT {select_list(list(shapes.values()))} FROM read_json('{src}', "
        f"columns={read_columns_literal(list(shapes.values()))})").fetchone()
    cols = [d[0] for d in con.description]
    assert cols == [c.lower() for c in rel.columns]
    rec = dict(zip(cols, row))
    assert rec["birthdate"] == "1970-01-01" and rec["name"][0]["given"] == ["G"]
    assert con.execute("SELECT json_extract_string(?, '$.valueString')", [rec["extension"][0]]).fetchone()[0] == "v"


def test_schema_merge_by_name_and_hive_types():
    a = [["id", "string"], ["s", {"struct": [["x", "int"]]}], ["l", {"list": "int"}]]
    b = [["id", "string"], ["s", {"struct": [["y", "string"], ["x", "bigint"]]}], ["m", {"map": ["string", "string"]}]]
    merged = merge_fields(a, b)
    assert [n for n, _ in merged] == ["id", "s", "l", "m"]
    assert hive_type(dict(merged)["s"]) == "struct<x:bigint,y:string>"
    assert hive_type(dict(merged)["l"]) == "array<int>"
    assert hive_type(dict(merged)["m"]) == "map<string,string>"
    assert merge_fields([["v", "string"]], [["v", {"list": "int"}]]) == [["v", "string"]]


def test_reference_windows_and_chr_aliases(tmp_path):
    fa = tmp_path / "ref.fa"
    fa.write_text(">chr1:101-110\nACGTACGTAC\n>2\nGGGGCCCC\n")
    ref = Reference(fa)
    assert ref.fetch("chr1", 100, 3) == b"ACG"  # 0-based 100 = 1-based 101, first base of the window
    assert ref.fetch("1", 107, 3) == b"TAC"  # VCF says 1, FASTA says chr1
    assert ref.fetch("chr1", 108, 3) is None  # runs past the window
    assert ref.fetch("chr1", 50, 1) is None  # before it
    assert ref.fetch("chr2", 4, 4) == b"CCCC"
    assert ref.fetch("chrX", 0, 1) is None


@pytest.mark.parametrize("text, problem", [
    ("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n", None),
    ("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n", "first line"),
    ("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\t\n", "empty sample"),
    ("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS\tS\n", "duplicate"),
    ("##fileformat=VCFv4.2\n1\t1\t.\tA\tC\t.\t.\t.\n", "no #CHROM"),
])
def test_vcf_header_problems(tmp_path, text, problem):
    p = tmp_path / "x.vcf"
    p.write_text(text)
    h = read_header(p)
    assert (h.problem is None) if problem is None else (problem in h.problem)


def test_info_text_becomes_the_attributes_map():
    """INFO as written: lists and odd values kept verbatim, flags 'true', missing values and empty keys left out,
    a key written twice kept once (the first value, as htslib does)."""
    info = pa.array(["DP=3;AF=0.5,0.25;DB;G=x=y", ".", "A;;B=1;B=2;C=.", "XX=abc"])
    maps = [dict(m) for m in attributes(info_entries(info)).to_pylist()]
    assert maps == [{"DP": "3", "AF": "0.5,0.25", "DB": "true", "G": "x=y"}, {}, {"A": "true", "B": "1"},
                    {"XX": "abc"}]


def test_quarantine_excerpt_is_capped():
    q = Quarantined("f", "line 1", "fhir", "malformed-json", "x" * 5000)
    assert len(q.raw) == EXCERPT_LIMIT


def test_a_field_beyond_the_schema_sample_is_still_loaded(tmp_path):
    """The schema comes from a sample; the key count proves it covered the file or the file is redone."""
    import json

    from mmhealth.lake.ingest import run_ingest

    src = tmp_path / "src"
    src.mkdir()
    rows = [{"resourceType": "Patient", "id": f"p{i}", "name": [{"family": "F"}]} for i in range(30)]
    rows[-1]["deceasedDateTime"] = "2020-01-01T00:00:00+01:00"
    rows[-1]["name"][0]["suffix"] = ["Jr."]
    (src / "Patient.ndjson").write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows))
    lake = tmp_path / "lake"
    run_ingest(src, str(lake), ["fhir"], {"fhir_schema_sample": 5}, progress=False)
    con = duckdb.connect(str(lake / "lake.duckdb"), read_only=True)
    got = con.execute("SELECT deceaseddatetime, name[1].suffix FROM healthlake.patient WHERE id = 'p29'").fetchone()
    assert got == ("2020-01-01T00:00:00+01:00", ["Jr."])
    assert con.execute("SELECT count(*) FROM healthlake.patient").fetchone()[0] == 30


def test_catalog_reads_parts_by_name_only_when_their_schemas_differ(tmp_path):
    import pyarrow.parquet as pq

    from mmhealth.lake.catalog import view_sql
    from mmhealth.lake.manifest import Part
    from mmhealth.lake.schema import schema_of_parquet

    def part(name: str, table: pa.Table) -> Part:
        path = tmp_path / "t" / f"lake_run={name}" / "part.parquet"
        path.parent.mkdir(parents=True)
        pq.write_table(table, path)
        return Part(key=str(path.relative_to(tmp_path)), rows=table.num_rows, run=name, sources=[],
                    schema=schema_of_parquet(path)[1])

    a = part("r1", pa.table({"id": ["a"], "n": [1]}))
    b = part("r2", pa.table({"id": ["b"], "n": [2]}))
    wider = part("r3", pa.table({"n": [3], "id": ["c"], "extra": ["x"]}))
    assert a.schema == b.schema != wider.schema
    con = duckdb.connect()
    con.execute("create schema db")
    same = view_sql(tmp_path, "db.same", [a, b])
    mixed = view_sql(tmp_path, "db.mixed", [a, b, wider])
    legacy = view_sql(tmp_path, "db.legacy", [Part(a.key, 1, "r1", []), Part(b.key, 1, "r2", [])])
    assert "union_by_name" not in same and "union_by_name" in mixed and "union_by_name" in legacy
    for sql in (same, mixed, legacy):
        con.execute(sql)
    assert con.execute("select id, n, lake_run from db.same order by id").fetchall() == [("a", 1, "r1"), ("b", 2, "r2")]
    assert con.execute("select id, n, extra from db.mixed order by id").fetchall() == [
        ("a", 1, None), ("b", 2, None), ("c", 3, "x")]
    assert con.execute("select count(*) from db.legacy").fetchone() == (2,)


def test_small_parts_of_a_table_are_coalesced_with_their_sources(tmp_path):
    import pyarrow.parquet as pq

    from mmhealth.lake.compact import coalesce
    from mmhealth.lake.schema import schema_of_parquet

    def staged(table: str, name: str, data: pa.Table):
        path = tmp_path / "in" / "lake_run=r1" / f"{name}.parquet"  # a key=value folder must not become a column
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(data, path)
        return table, path, data.num_rows, [f"{name}.vcf"], schema_of_parquet(path)[1]

    small = [staged("omics.variants", f"s{i}", pa.table({"sampleid": [f"p{i}"] * 3, "start": [1, 2, 3]}))
             for i in range(5)]
    other_schema = staged("omics.variants", "odd", pa.table({"sampleid": ["x"], "start": [1.5]}))
    big = staged("omics.variants", "big", pa.table({"sampleid": ["b"] * 50, "start": list(range(50))}))
    alone = staged("omics.annotations", "ann", pa.table({"x": [1]}))
    out = coalesce(small + [other_schema, big, alone], tmp_path / "out", small_rows=10, max_rows=9)
    by_sources = {tuple(e[3]): e for e in out}
    # 5 parts of 3 rows with a cap of 9 rows: two coalesced parts (9 rows, 6 rows); the rest untouched
    assert sorted(len(e[3]) for e in out if e[0] == "omics.variants") == [1, 1, 2, 3]
    assert by_sources[("big.vcf",)][1] == big[1] and by_sources[("ann.vcf",)][1] == alone[1]
    assert by_sources[("odd.vcf",)][1] == other_schema[1]
    merged = [e for e in out if len(e[3]) > 1]
    assert sum(e[2] for e in merged) == 15 and all(not s[1].exists() for s in small)
    rows = [r for e in merged for r in pq.ParquetFile(e[1]).read().to_pylist()]
    assert sorted((r["sampleid"], r["start"]) for r in rows) == sorted((f"p{i}", s) for i in range(5) for s in (1, 2, 3))
    assert all(set(r) == {"sampleid", "start"} for r in rows)
    assert all(schema_of_parquet(e[1])[1] == e[4] for e in merged)
