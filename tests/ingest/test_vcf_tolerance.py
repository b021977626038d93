"""VCFs as real sources send them: every file htslib (pysam) reads loads, quirks and all, with a warning per file
in lake_meta.warnings; a bad record is quarantined on its own with its line; a file nothing can read is
quarantined whole and still counted record by record. Every file here is written by the test."""

from __future__ import annotations

import random
import re

import pyarrow as pa
import pysam
import pytest

from mmhealth.lake.ingest import run_ingest
from vcf_awkward import FILES, data_lines, write_awkward_vcf

from .conftest import connect


@pytest.fixture(scope="module")
def awkward(tmp_path_factory):
    src = tmp_path_factory.mktemp("awkward-vcf")
    write_awkward_vcf(src)
    lake = tmp_path_factory.mktemp("awkward-lake") / "lake"
    report = run_ingest(src, str(lake), ["genomics"], {}, progress=False)
    return src, lake, report


def _log(lake, name):
    return connect(lake).execute(
        "SELECT records_read, records_loaded, records_quarantined FROM lake_meta.ingest_log WHERE lake_source = ?",
        [name]).fetchone()


def _warnings(lake, name) -> dict[str, tuple[str, int | None]]:
    rows = connect(lake).execute("SELECT warning, position, records FROM lake_meta.warnings WHERE lake_source = ?",
                                 [name]).fetchall()
    return {w: (p, n) for w, p, n in rows}


def _pysam_records(path):
    with pysam.VariantFile(str(path)) as vf:
        return [(r.contig, r.start, r.stop, r.ref, tuple(r.alts or ())) for r in vf]


def _loaded(lake, name):
    return connect(lake).execute(
        'SELECT contigname, start, "end", referenceallele, alternatealleles, attributes FROM omics.variants '
        "WHERE lake_source = ? ORDER BY start", [name]).fetchall()


@pytest.mark.parametrize("name", ["escaped_quotes.vcf", "duplicate_info.vcf", "undeclared_keys.vcf", "pos_zero.vcf",
                                  "type_mismatch.vcf", "long_contig.vcf", "iupac_ref.vcf"])
def test_every_file_htslib_reads_loads_every_record_it_reads(awkward, name):
    src, lake, _ = awkward
    expected = _pysam_records(src / name)
    got = [(c, s, e, r, tuple(a)) for c, s, e, r, a, _ in _loaded(lake, name)]
    assert got == sorted(expected, key=lambda x: x[1])
    assert _log(lake, name) == (len(expected), len(expected), 0)


def test_escaped_quotes_in_a_format_description_load_with_a_warning(awkward):
    from mmhealth.ingest.genomics.vcf_header import oxbow_refuses, read_header

    src, lake, _ = awkward
    header = read_header(src / "escaped_quotes.vcf")
    assert oxbow_refuses("\n".join(header.lines) + "\n", True)  # the quirk this test is about: oxbow refuses it
    w = _warnings(lake, "escaped_quotes.vcf")
    assert w["escaped-quote-in-header: FORMAT AD has backslash escapes in its text (read as htslib reads them)"][0] \
        == "line 8"
    assert any(k.startswith("tolerant-path:") for k in w)
    rows = connect(lake).execute("SELECT alleledepths FROM omics.variants WHERE lake_source = 'escaped_quotes.vcf' "
                                 "ORDER BY start").fetchall()
    assert rows[0] == ([3, 4],)  # the field whose definition had the quotes is read


def test_a_duplicate_info_id_loads_with_the_first_definition(awkward):
    _, lake, _ = awkward
    w = _warnings(lake, "duplicate_info.vcf")
    assert w["duplicate-header-id: INFO ANN is defined again; the first definition (line 4) is used, as htslib does"] \
        == ("line 8", None)
    maps = [dict(a) for *_, a in _loaded(lake, "duplicate_info.vcf")]
    assert [m.get("ANN") for m in maps] == ["x|y", "z", None]  # the first definition (String) reads it as text


def test_undeclared_info_and_format_keys_are_kept_and_counted(awkward):
    src, lake, _ = awkward
    maps = [dict(a) for *_, a in _loaded(lake, "undeclared_keys.vcf")]
    assert maps == [{"DP": "5", "XX": "abc", "YF": "true"}, {"DP": "6", "XX": "d", "FORMAT/ZZ": "q"}, {"DP": "5"}]
    text = FILES["undeclared_keys.vcf"]
    records = [line.split("\t") for line in text.splitlines() if not line.startswith("#")]
    counted = {key: sum(1 for r in records if re.search(rf"(^|;){key}(=|;|$)", r[7])) for key in ("XX", "YF")}
    counted["ZZ"] = sum(1 for r in records if "ZZ" in r[8].split(":"))
    w = _warnings(lake, "undeclared_keys.vcf")
    assert w["undeclared-info-key: XX is not declared in the header; kept in attributes"] == ("line 9", counted["XX"])
    assert w["undeclared-info-key: YF is not declared in the header; kept in attributes"] == ("line 9", counted["YF"])
    assert w["undeclared-format-key: FORMAT ZZ is not declared in the header; kept in attributes as FORMAT/ZZ"] \
        == ("line 10", counted["ZZ"])
    with pysam.VariantFile(str(src / "undeclared_keys.vcf")) as vf:  # htslib reads the same values
        recs = list(vf)
    assert recs[0].info["XX"] == maps[0]["XX"] and recs[1].samples["S1"]["ZZ"] == maps[1]["FORMAT/ZZ"]


def test_pos_zero_loads_where_htslib_puts_it(awkward):
    src, lake, _ = awkward
    (contig, start, end, *_), _second = _loaded(lake, "pos_zero.vcf")
    first = _pysam_records(src / "pos_zero.vcf")[0]
    assert (start, end) == (first[1], first[2]) == (-1, 0)
    assert _warnings(lake, "pos_zero.vcf")[
        "pos-zero: POS 0 (a telomere) is loaded with start -1, as htslib reads it"] == ("line 9", 1)


def test_type_mismatches_load_as_written_with_a_warning(awkward):
    _, lake, _ = awkward
    maps = [dict(a) for *_, a in _loaded(lake, "type_mismatch.vcf")]
    assert maps == [{"DP": "abc"}, {"DP": "1.5", "FL": "3", "ZZ": "x"}, {"DP": "7", "FL": "true"}]
    w = _warnings(lake, "type_mismatch.vcf")
    assert w["info-type-mismatch: INFO DP is declared Integer, values not Integer are kept as written"] \
        == ("line 11", 2)
    assert w["info-type-mismatch: INFO FL is declared Flag, values written with a value are kept as written"] \
        == ("line 12", 1)
    assert w["invalid-header-type: INFO ZZ Type=Foo read as String, as htslib does"] == ("line 9", None)


@pytest.mark.parametrize("name, kind", [("empty_sample_name.vcf", "invalid-vcf-header: empty sample name"),
                                        ("not_a_vcf.vcf", "invalid-vcf-header: first line")])
def test_a_rejected_file_counts_every_record_it_held(awkward, name, kind):
    src, lake, _ = awkward
    n = len(data_lines(FILES[name]))
    assert n > 1
    assert _log(lake, name) == (n, 0, n)
    (position, reason), = connect(lake).execute(
        "SELECT position, reason FROM lake_meta.quarantine WHERE lake_source = ?", [name]).fetchall()
    assert position == "file" and reason.startswith(kind) and f"({n} records not loaded)" in reason
    with pytest.raises((OSError, ValueError)):  # htslib refuses these files too
        _pysam_records(src / name)


def test_record_problems_quarantine_that_record_with_its_line(awkward):
    _, lake, _ = awkward
    got = dict(connect(lake).execute(
        "SELECT position, reason FROM lake_meta.quarantine WHERE lake_source = 'bad_records.vcf'").fetchall())
    expected = {
        "line 10": "invalid-vcf-line: POS '1x' is not a whole number",
        "line 11": "invalid-vcf-line: QUAL 'high' is not a number",
        "line 12": "invalid-vcf-line: REF 'AZ' is not a sequence of A/C/G/T/N",
        "line 13": "invalid-vcf-line: GT '0/x' of sample S1 is not a genotype",
        "line 14": "invalid-vcf-line: FORMAT DP 'deep' of sample S1 is not Integer",
        "line 15": "invalid-vcf-line: sample S1 has more values than FORMAT declares",
        "line 16": "invalid-vcf-line: 5 columns, the header declares 10",
        "line 17": "invalid-vcf-line: sample S1 is an empty column",
    }
    assert got.keys() == expected.keys()
    assert all(got[p].startswith(r) for p, r in expected.items()), got
    assert [s for _, s, *_ in _loaded(lake, "bad_records.vcf")] == [9, 99]  # lines 9 and 18
    assert _log(lake, "bad_records.vcf") == (10, 2, 8)


def test_a_truncated_bgzip_file_keeps_every_record_before_the_damage(awkward):
    src, lake, _ = awkward
    import gzip

    seen = []  # what Python's gzip module reads before it stops at the damage (htslib reads no record of it)
    with pytest.raises(EOFError), gzip.open(src / "truncated.vcf.gz", "rt") as fh:
        for line in fh:
            if not line.startswith("#") and line.endswith("\n"):
                seen.append(int(line.split("\t")[1]) - 1)
    loaded = [s for _, s, *_ in _loaded(lake, "truncated.vcf.gz")]
    assert len(seen) > 100 and set(seen) <= set(loaded)  # every record htslib reads, and what zlib still gave
    read, n_loaded, quarantined = _log(lake, "truncated.vcf.gz")
    assert (n_loaded, quarantined) == (len(loaded), 1) and read == n_loaded + quarantined
    (position, reason), = connect(lake).execute(
        "SELECT position, reason FROM lake_meta.quarantine WHERE lake_source = 'truncated.vcf.gz'").fetchall()
    assert position == f"line {8 + len(loaded) + 1}" and reason.startswith("unreadable-vcf: the file cannot be read")
    assert "could not be counted" in reason


def test_every_record_has_exactly_one_fate(awkward):
    """read = loaded + quarantined per file, and read is records (counted here from the text), never files."""
    src, lake, report = awkward
    for name, text in FILES.items():
        read, loaded, quarantined = _log(lake, name)
        assert read == len(data_lines(text)) == loaded + quarantined, name
        rows = connect(lake).execute("SELECT count(*) FROM omics.variants WHERE lake_source = ?", [name]).fetchone()[0]
        assert rows == loaded, name  # one sample per file
    g = report.modalities["genomics"]
    assert g.read == g.loaded + g.quarantined + g.skipped


def test_clean_files_take_the_fast_path(awkward):
    _, lake, _ = awkward
    tolerant = {s for s, in connect(lake).execute(
        "SELECT lake_source FROM lake_meta.warnings WHERE warning LIKE 'tolerant-path:%'").fetchall()}
    # the header quirks oxbow refuses, the lines it cannot parse, a damaged stream - nothing else
    assert tolerant == {"escaped_quotes.vcf", "duplicate_info.vcf", "undeclared_keys.vcf", "type_mismatch.vcf",
                        "bad_records.vcf", "truncated.vcf.gz"}


def _reference_split(info: str) -> dict[str, str]:
    """INFO as htslib reads it, in plain Python: the first '=' splits; a flag reads 'true'; '.' is missing."""
    out: dict[str, str] = {}
    for entry in info.split(";"):
        key, eq, value = entry.partition("=")
        if not key or (key == "." and not eq) or (eq and value == "."):
            continue
        out.setdefault(key, value if eq else "true")
    return out


def test_info_split_agrees_with_a_plain_python_reading_of_random_text():
    from mmhealth.ingest.genomics.vcf_raw import attributes, info_entries

    rng = random.Random(15)
    alphabet = ["A", "B", "DP", "END", ".", "=", ";", "1", ",", "x", "=="]
    infos = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))) for _ in range(3000)]
    infos += [".", "", ";", "A=.", "A=1;A=2", "X=a=b;Y"]
    column = pa.concat_arrays([pa.array(["padding"]), pa.array(infos)]).slice(1)  # a column with an offset
    got = [dict(m) for m in attributes(info_entries(column)).to_pylist()]
    assert got == [_reference_split(s) for s in infos]


def test_structured_header_lines_read_like_htslib():
    from mmhealth.ingest.genomics.vcf_header import VcfHeader, parse_structured

    kind, fields = parse_structured(r'##FORMAT=<ID=AD,Number=R,Type=Integer,Description="a \"b\", c > d">')
    assert kind == "FORMAT" and fields == {"ID": "AD", "Number": "R", "Type": "Integer", "Description": 'a "b", c > d'}
    assert parse_structured('##INFO=<ID=X,Description="unterminated>')[1] is None
    assert parse_structured("##fileDate=20260101") == ("fileDate", None)
    h = VcfHeader()
    assert h.table == "annotations" and h.n_columns == 8
