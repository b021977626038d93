"""VCF / VCF.gz (single- or multi-sample, and ClinVar-style sites-only files) to HealthOmics-shaped rows.

Fast path, every file: oxbow parses the records into Arrow batches (noodles, in Rust) on a second thread, and
pyarrow's CSV reader streams the same records' POS, QUAL, INFO, FORMAT and sample columns as text beside it
(`vcf_raw`). Each batch is checked with Arrow kernels (POS, QUAL, REF, GT, typed FORMAT values, REF against the
reference when one is given); bad records are cut out and quarantined with their line; INFO becomes the
`attributes` map from its text (every key, values as written); a third thread writes the Parquet.

Tolerant path, only for a file the fast path refuses (`reader.load_vcf` -> `vcf_tolerant`): the lines that
cannot be parsed at all are quarantined, a header oxbow refuses is handed to it as htslib reads it
(`vcf_header.repair`, after pysam confirmed htslib reads it), FORMAT keys the header does not declare are
declared, and the clean copy goes through `convert` too. Line numbers in the quarantine and the warnings are those of the original file. A file
even that cannot read is quarantined whole, with the number of records it held.

Warnings (input loaded but tolerated: undeclared keys, type mismatches, header repairs, POS 0, IUPAC codes in
REF) are collected per file and stored in `lake_meta.warnings` by the genomics reader.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from mmhealth.ingest.genomics import vcf_raw
from mmhealth.ingest.genomics.fasta import Reference
from mmhealth.ingest.genomics.vcf_header import (
    FORMAT_PREFIX, VcfHeader, first_line, open_text, raise_if_truncated, read_header,
)
from mmhealth.ingest.records import SOURCE_COLUMN, Quarantined

__all__ = ["MODALITY", "VCF_SUFFIXES", "Rejected", "VcfHeader", "VcfResult", "convert", "count_records",
           "first_line", "is_vcf", "read_header", "variants_schema", "annotations_schema"]

MODALITY = "genomics"
VCF_SUFFIXES = (".vcf", ".vcf.gz", ".vcf.bgz")
_REF_OK = re.compile(r"^[ACGTNacgtn]+$")
# IUPAC ambiguity codes: htslib reads them in REF, the VCF specification does not allow them; loaded, with a warning.
_REF_IUPAC = r"^[ACGTNRYSWKMBDHVacgtnryswkmbdhv]+$"
# The FORMAT fields the variants table keeps as typed columns. oxbow is asked for these only (and for undeclared
# keys, which go to `attributes`): parsing the others (PL above all, a list per sample) was a third of its time
# on GATK-style files, for columns the lake never stores.
GENOTYPE_FIELDS = ["GT", "DP", "GQ", "AD"]
# Sites per oxbow batch: small enough that parsing, reshaping and writing overlap from early in a file,
# large enough that per-batch overhead stays negligible.
BATCH_SITES = 32_768


def is_vcf(path: Path) -> bool:
    return path.name.lower().endswith(VCF_SUFFIXES)


def _site_fields(pa) -> list:
    """HealthOmics' per-site columns, shared by the variant store (before the calls) and the annotation store."""
    return [
        ("contigname", pa.string()),
        ("start", pa.int64()),
        ("end", pa.int64()),
        ("names", pa.list_(pa.string())),
        ("referenceallele", pa.string()),
        ("alternatealleles", pa.list_(pa.string())),
        ("qual", pa.float64()),
        ("filters", pa.list_(pa.string())),
    ]


def variants_schema():
    import pyarrow as pa

    return pa.schema([
        ("sampleid", pa.string()),
        *_site_fields(pa),
        ("phased", pa.bool_()),
        ("calls", pa.list_(pa.int32())),
        ("attributes", pa.map_(pa.string(), pa.string())),
        ("depth", pa.int32()),
        ("genotypequality", pa.int32()),
        ("alleledepths", pa.list_(pa.int32())),
        (SOURCE_COLUMN, pa.string()),
    ])


def annotations_schema():
    import pyarrow as pa

    return pa.schema([
        *_site_fields(pa),
        ("attributes", pa.map_(pa.string(), pa.string())),
        (SOURCE_COLUMN, pa.string()),
    ])


@dataclass(frozen=True)
class VcfWarning:
    """Input that was loaded but had to be tolerated. `records` is how many records it concerns (None for a
    header-only matter); `position` the first line it was seen at."""

    position: str
    warning: str
    records: int | None = None


class Warnings:
    """Warnings of one file, one per distinct text: first line seen, records summed."""

    def __init__(self) -> None:
        self._items: dict[str, list] = {}

    def add(self, warning: str, line: int | None, records: int | None = None) -> None:
        item = self._items.get(warning)
        if item is None:
            self._items[warning] = [line, records]
        else:
            if line is not None and (item[0] is None or line < item[0]):
                item[0] = line
            if records is not None:
                item[1] = (item[1] or 0) + records

    def merge(self, other: "Warnings") -> None:
        for text, (line, n) in other._items.items():
            self.add(text, line, n)

    def rows(self) -> list[VcfWarning]:
        return [VcfWarning(f"line {line}" if line is not None else "file", text, n)
                for text, (line, n) in sorted(self._items.items(), key=lambda kv: (kv[1][0] or 0, kv[0]))]


@dataclass
class VcfResult:
    records: int = 0
    loaded_sites: int = 0
    rows: int = 0
    quarantined: list[Quarantined] = field(default_factory=list)
    warnings: Warnings = field(default_factory=Warnings)


class Rejected(Exception):
    """The whole file cannot be loaded: `reason` for its quarantine row."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def count_records(path: Path) -> tuple[int, str | None]:
    """Records (data lines) in the file, and why counting stopped early (None when the whole file was read)."""
    n = 0
    try:
        with open_text(path) as fh:
            for line in fh:
                if line.strip() and not line.startswith("#"):
                    n += 1
            raise_if_truncated(fh)
    except (OSError, EOFError, ValueError) as exc:  # truncated or corrupt compression
        return n, first_line(exc)
    return n, None


class NeedsDeclarations(Exception):
    """The data uses FORMAT keys the header does not declare: oxbow would leave them out, so the file takes the
    tolerant path, which declares them."""


@dataclass
class _Plan:
    """What `convert` needs to know about the file it reads, beyond the header of the file as delivered."""

    header: VcfHeader
    skip_lines: int
    line_of: list[int] | None
    extra_formats: set[str]  # FORMAT keys the header lacked and the tolerant path declared
    typed: list[str]  # typed FORMAT columns oxbow parses (GT, DP, GQ, AD as available)
    strings: list[str]  # undeclared FORMAT keys oxbow reads as text, for `attributes`
    reference: Reference | None

    def line(self, record: int) -> int:
        return self.line_of[record] if self.line_of else self.skip_lines + record + 1


def convert(path: Path, rel: str, header: VcfHeader, out: Path, reference: Reference | None, *,
            header_lines: int | None = None, line_of: list[int] | None = None,
            extra_formats: set[str] = frozenset()) -> VcfResult:
    """Stream `path` into the Parquet file `out`. `header` holds the definitions of the file as delivered; for
    a clean copy (tolerant path), `header_lines` is the length of the copy's header and `line_of` maps its
    records to original lines. Raises what oxbow or the text reader raise (the caller takes the tolerant path)."""
    import oxbow
    import pyarrow as pa

    target = variants_schema() if header.samples else annotations_schema()
    declared = set(header.formats) | set(extra_formats)
    typed = [f for f in GENOTYPE_FIELDS if f in declared]
    strings = sorted(k for k in extra_formats if k not in GENOTYPE_FIELDS)
    plan = _Plan(header, header.header_lines if header_lines is None else header_lines, line_of,
                 set(extra_formats), typed, strings, reference)
    fields = typed + strings
    with_samples = bool(header.samples and fields)
    src = oxbow.from_vcf(str(path), samples="*" if with_samples else None, samples_nested=True, coords="01",
                         info_fields=None, genotype_fields=fields if with_samples else None)
    stream = src.scanner().scan(columns=src.columns, batch_size=BATCH_SITES)  # a header oxbow refuses raises here
    result = VcfResult()
    writer = _PipelinedWriter(out, target)
    batches = _prefetch(_Paired(pa.RecordBatchReader.from_stream(stream),
                                vcf_raw.raw_batches(path, header, plan.skip_lines)))
    try:
        for batch, raw in batches:
            n = batch.num_rows
            bad, site = _inspect(batch, raw, plan, result.records, result.warnings)
            for i, reason in sorted(bad.items()):
                line = plan.line(result.records + i)
                result.quarantined.append(Quarantined(rel, f"line {line}", MODALITY, reason, _site_text(batch, raw, i)))
            if bad:
                mask = np.ones(n, dtype=bool)
                mask[list(bad)] = False
                keep = pa.array(mask)
                batch = batch.filter(keep)
                site = {k: v.filter(keep) for k, v in site.items()}
            result.records += n
            result.loaded_sites += batch.num_rows
            for table in reshape(batch, rel, header.samples, target, site, plan):
                writer.write(table)
                result.rows += table.num_rows
    finally:
        batches.close()
        writer.close()  # no records: an empty part still keeps the table's columns known
    return result


class _Paired:
    """oxbow's batches, each with the same records' text columns (a reader for `_prefetch`)."""

    def __init__(self, reader, raw_batches: Iterator):
        self._reader = reader
        self._raw_iter = raw_batches
        self._raw = vcf_raw.Aligner(raw_batches)

    def read_next_batch(self):
        try:
            batch = self._reader.read_next_batch()
        except StopIteration:
            self._raw.finish()
            raise
        return batch, self._raw.take(batch.num_rows)

    def close(self) -> None:
        self._reader.close()
        self._raw_iter.close()


def _inspect(batch, raw, plan: _Plan, first_record: int, warnings: Warnings) -> tuple[dict[int, str], dict]:
    """Record index -> why the lake cannot load it, and the site arrays built from the text (start, end, the
    attributes map(s)). Warnings about loaded records go to `warnings`."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = batch.num_rows
    bad: dict[int, str] = {}
    col = vcf_raw.column
    # POS from the text: oxbow reads POS 0 (a telomere, legal) and an unparseable POS both as null
    pos_txt = col(raw, "c1")
    pos_ok = pc.fill_null(pc.match_substring_regex(pos_txt, r"^[0-9]{1,18}$"), False).to_numpy(zero_copy_only=False)
    raw_pos = np.zeros(n, dtype=np.int64)
    if pos_ok.any():
        raw_pos[pos_ok] = pc.cast(pos_txt.filter(pa.array(pos_ok)), pa.int64()).to_numpy()
    ox_pos = batch.column("pos")
    ox_valid = ox_pos.is_valid().to_numpy(zero_copy_only=False)
    ox_np = pc.fill_null(pc.cast(ox_pos, pa.int64()), -1).to_numpy()
    # oxbow keeps POS in 32 bits; the text is read in 64 (htslib's hts_pos_t), so compare modulo 2^32
    misaligned = ox_valid & (~pos_ok | (((ox_np - (raw_pos - 1)) % (1 << 32)) != 0))
    if misaligned.any():
        i = int(np.flatnonzero(misaligned)[0])
        raise vcf_raw.Misaligned(f"record {first_record + i + 1}: oxbow read POS {ox_np[i] + 1}, the text says "
                                 f"{pos_txt[i].as_py()!r}")
    for i in np.flatnonzero(~pos_ok):
        bad[int(i)] = f"invalid-vcf-line: POS {pos_txt[int(i)].as_py()[:20]!r} is not a whole number"
    for i in np.flatnonzero(pos_ok & ~ox_valid & (raw_pos > 0) & (raw_pos < (1 << 32))):
        bad[int(i)] = f"invalid-vcf-line: POS {pos_txt[int(i)].as_py()[:20]} is out of range"
    start = raw_pos - 1
    # QUAL: oxbow reads a QUAL that is not a number as null
    q_bad = pc.and_(pc.is_null(batch.column("qual")), pc.not_equal(col(raw, "c5"), "."))
    if pc.any(q_bad).as_py():
        for i in pc.indices_nonzero(q_bad).to_pylist():
            bad.setdefault(i, f"invalid-vcf-line: QUAL {col(raw, 'c5')[i].as_py()[:20]!r} is not a number")
    # REF: A/C/G/T/N; IUPAC codes load with a warning (htslib reads them); anything else is quarantined
    ref = batch.column("ref")
    strict = pc.fill_null(pc.match_substring_regex(ref, _REF_OK.pattern), False)
    iupac_rows: list[int] = []
    if not pc.all(strict).as_py():
        for i in pc.indices_nonzero(pc.invert(strict)).to_pylist():
            text = ref[i].as_py()
            if text and re.match(_REF_IUPAC, text):
                iupac_rows.append(i)
            else:
                bad.setdefault(i, f"invalid-vcf-line: REF {text!r} is not a sequence of A/C/G/T/N")
    sample_cols: dict[str, object] = {}
    if plan.header.samples and "samples" in batch.schema.names:
        sample_cols = _inspect_samples(batch, raw, plan, first_record, bad, warnings)
    elif plan.header.samples:
        fmt_idx, fmt_keys = _formats(raw, plan)
        _count_undeclared_formats(fmt_idx, fmt_keys, plan, first_record, np.ones(n, bool), warnings)
    if plan.reference is not None:
        _check_reference(batch, start, plan.reference, bad)
    keep = np.ones(n, dtype=bool)
    if bad:
        keep[list(bad)] = False
    # warnings about the records that load
    zero = np.flatnonzero(pos_ok & ~ox_valid & (raw_pos == 0) & keep)
    if len(zero):
        warnings.add("pos-zero: POS 0 (a telomere) is loaded with start -1, as htslib reads it",
                     plan.line(first_record + int(zero[0])), len(zero))
    iupac = [i for i in iupac_rows if keep[i]]
    if iupac:
        warnings.add("iupac-ref: REF has IUPAC ambiguity codes (the VCF specification allows A/C/G/T/N only)",
                     plan.line(first_record + iupac[0]), len(iupac))
    entries = vcf_raw.info_entries(col(raw, "c7"))
    _info_warnings(entries, plan, first_record, keep, warnings)
    end = vcf_raw.info_end(entries)
    ref_len = pc.cast(pc.binary_length(ref), pa.int64()).to_numpy(zero_copy_only=False)
    end = pc.coalesce(end, pa.array(start + ref_len))
    site = {"start": pa.array(start), "end": end, "attributes": vcf_raw.attributes(entries)}
    for name, extra in sample_cols.items():
        site[f"attributes:{name}"] = vcf_raw.attributes(entries, extra)
    return bad, site


def _info_warnings(e: vcf_raw.InfoEntries, plan: _Plan, first_record: int, keep: np.ndarray,
                   warnings: Warnings) -> None:
    info = plan.header.info
    undeclared = [j for j, name in enumerate(e.key_names) if name not in info]
    all_kept = bool(keep.all())
    kept = None if all_kept else keep[e.rows]
    if undeclared:
        counts = np.bincount(e.key_index if all_kept else e.key_index[kept], minlength=len(e.key_names))
    for j in undeclared:
        name = e.key_names[j]
        if counts[j]:
            hit = e.key_index == j
            first = int(e.rows[np.argmax(hit if all_kept else hit & kept)])
            warnings.add(f"undeclared-info-key: {name} is not declared in the header; kept in attributes",
                         plan.line(first_record + first), int(counts[j]))
    if all_kept:
        mismatches = vcf_raw.type_mismatches(e, {k: d.type for k, d in info.items()})
    else:
        import pyarrow as pa

        idx = np.flatnonzero(kept)
        sub = vcf_raw.InfoEntries(e.n_rows, e.rows[idx], e.key_index[idx], e.key_names, e.values.take(pa.array(idx)),
                                  e.has_value[idx], 0)
        mismatches = vcf_raw.type_mismatches(sub, {k: d.type for k, d in info.items()})
    for name, (count, row) in mismatches.items():
        t = info[name].type
        what = "written with a value" if t == "Flag" else f"not {t}"
        warnings.add(f"info-type-mismatch: INFO {name} is declared {t}, values {what} are kept as written",
                     plan.line(first_record + row), count)
    if e.duplicates:
        warnings.add("repeated-info-key: a record writes an INFO key twice; the first value is kept, as htslib does",
                     None, e.duplicates)


def _formats(raw, plan: _Plan) -> tuple[np.ndarray, list[list[str]]]:
    """FORMAT keys per record. A key the header does not declare, and the tolerant path did not declare either,
    raises `NeedsDeclarations` (oxbow would leave its values out)."""
    fmt_idx, fmt_keys = vcf_raw.format_keys(vcf_raw.column(raw, "c8"))
    for k in sorted({k for keys in fmt_keys for k in keys}):
        if k not in plan.header.formats and k not in plan.extra_formats:
            raise NeedsDeclarations(f"FORMAT {k} is not declared in the header")
    return fmt_idx, fmt_keys


def _count_undeclared_formats(fmt_idx: np.ndarray, fmt_keys: list[list[str]], plan: _Plan, first_record: int,
                              keep: np.ndarray, warnings: Warnings) -> None:
    for k in sorted({k for keys in fmt_keys for k in keys if k in plan.extra_formats}):
        has = np.array([k in keys for keys in fmt_keys], dtype=bool)[fmt_idx] & keep
        if has.any():
            where = "its typed column" if k in GENOTYPE_FIELDS else f"attributes as {FORMAT_PREFIX}{k}"
            warnings.add(f"undeclared-format-key: FORMAT {k} is not declared in the header; kept in {where}",
                         plan.line(first_record + int(np.flatnonzero(has)[0])), int(has.sum()))


def _inspect_samples(batch, raw, plan: _Plan, first_record: int, bad: dict[int, str], warnings: Warnings) -> dict:
    """Per-sample checks (values beyond FORMAT, GT syntax, typed FORMAT values oxbow could not read) and, per
    sample, its undeclared FORMAT values for `attributes`."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = batch.num_rows
    fmt_idx, fmt_keys = _formats(raw, plan)
    n_keys = np.array([len(k) for k in fmt_keys], dtype=np.int64)[fmt_idx]
    gt_first = np.array([bool(k) and k[0] == "GT" for k in fmt_keys], dtype=bool)[fmt_idx]
    key_at = {k: np.array([keys.index(k) if k in keys else -1 for keys in fmt_keys], dtype=np.int64)[fmt_idx]
              for k in plan.typed if k != "GT"}
    sample_col = batch.column("samples")
    extras: dict[str, list] = {}
    for i, name in enumerate(plan.header.samples):
        s = vcf_raw.column(raw, f"c{9 + i}")
        over = pc.count_substring(s, ":").to_numpy(zero_copy_only=False) > np.maximum(n_keys - 1, 0)
        for r in np.flatnonzero(over):
            bad.setdefault(int(r), f"invalid-vcf-line: sample {name} has more values than FORMAT declares")
        gt_ok = pc.fill_null(pc.match_substring_regex(s, vcf_raw.GT_PATTERN), False).to_numpy(zero_copy_only=False)
        for r in np.flatnonzero(gt_first & ~gt_ok & ~over):
            gt = s[int(r)].as_py().split(":")[0]
            bad.setdefault(int(r), f"invalid-vcf-line: GT {gt[:20]!r} of sample {name} is not a genotype")
        g = pc.struct_field(sample_col, [i])
        for k, at in key_at.items():
            typed = _as_int32(pc.struct_field(g, k))
            cand = typed.is_null().to_numpy(zero_copy_only=False) & (at >= 0) & ~over
            if not cand.any():
                continue
            rows = np.flatnonzero(cand)
            text = vcf_raw.subfield(s.take(pa.array(rows)), at[rows])
            present = pc.and_(pc.is_valid(text), pc.invert(pc.is_in(text, pa.array([".", ""]))))
            if pc.any(present).as_py():
                t = plan.header.formats[k].type if k in plan.header.formats else "Integer"
                for j in pc.indices_nonzero(present).to_pylist():
                    bad.setdefault(int(rows[j]), f"invalid-vcf-line: FORMAT {k} {text[j].as_py()[:40]!r} of sample "
                                                 f"{name} is not {t}")
        if plan.strings:
            extras[name] = [(FORMAT_PREFIX + k, pc.cast(pc.struct_field(g, k), pa.string())) for k in plan.strings]
    keep = np.ones(n, dtype=bool)
    if bad:
        keep[list(bad)] = False
    _count_undeclared_formats(fmt_idx, fmt_keys, plan, first_record, keep, warnings)
    return extras


def _check_reference(batch, start: np.ndarray, reference: Reference, bad: dict[int, str]) -> None:
    import pyarrow.compute as pc

    chroms = pc.cast(batch.column("chrom"), "string").to_pylist()
    refs = batch.column("ref").to_pylist()
    for i, (c, s, r) in enumerate(zip(chroms, start.tolist(), refs)):
        if i in bad or s < 0:  # POS 0 has no reference base to compare
            continue
        expected = reference.fetch(c, s, len(r))
        if expected is None:
            bad[i] = f"ref-mismatch: reference does not cover {c}:{s + 1}"
        elif expected != r.upper().encode():
            bad[i] = f"ref-mismatch: REF {r} at {c}:{s + 1} but the reference has {expected.decode()}"


def _site_columns(batch, rel: str, site: dict) -> dict:
    """The site columns except `attributes`, with Arrow kernels; `start` and `end` come from the text (POS 0,
    INFO END as written)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = batch.num_rows
    ids = batch.column("id")
    filters = batch.column("filter")
    pass_ = pa.scalar(["PASS"], pa.list_(pa.string()))
    return {
        "contigname": pc.cast(batch.column("chrom"), pa.string()),
        "start": site["start"],
        "end": site["end"],
        "names": pc.if_else(pc.equal(pc.list_value_length(ids), 0), _nulls(1, ids.type)[0], ids),
        "referenceallele": batch.column("ref"),
        "alternatealleles": batch.column("alt"),
        "qual": pc.cast(batch.column("qual"), pa.float64()),
        "filters": pc.if_else(pc.equal(pc.list_value_length(filters), 0), pass_, filters),
        SOURCE_COLUMN: _constant(rel, n),
    }


def _nulls(n: int, type_):
    import pyarrow as pa

    return pa.nulls(n, type_)


def _zeros(n: int):
    import pyarrow as pa

    return pa.array(np.zeros(n, dtype=np.int32))


def _constant(value: str, n: int):
    import pyarrow as pa

    return pa.DictionaryArray.from_arrays(_zeros(n), pa.array([value], pa.string())).dictionary_decode()


def _as_int32(col):
    """A FORMAT value as int32 whatever the header declared: floats rounded (GQ is a Float in some callers),
    text parsed where it is an integer; anything else null (the caller quarantines a value that was present)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    t = col.type
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if pa.types.is_fixed_size_list(t):
        col = pc.cast(col, pa.list_(t.value_type))
        t = col.type
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return pa.ListArray.from_arrays(pc.cast(col.offsets, pa.int32()), _as_int32(col.values),
                                        type=pa.list_(pa.int32()), mask=col.is_null())
    if pa.types.is_floating(t):
        col = pc.round(col, round_mode="half_towards_infinity")
    elif pa.types.is_string(t) or pa.types.is_large_string(t):
        ok = pc.fill_null(pc.match_substring_regex(col, r"^[+-]?[0-9]{1,9}$"), False)
        col = pc.if_else(ok, col, pa.scalar(None, col.type))
        return pc.cast(col, pa.int32())
    elif not pa.types.is_integer(t):
        return pa.nulls(len(col), pa.int32())
    lo, hi = -(2 ** 31), 2 ** 31 - 1
    in_range = pc.and_(pc.greater_equal(col, lo), pc.less_equal(col, hi))
    return pc.cast(pc.if_else(in_range, col, pa.scalar(None, col.type)), pa.int32(), safe=False)


def _genotype_columns(g, typed: list[str]) -> dict:
    """Per-sample FORMAT values from the struct array `g` (one sample's FORMAT fields per row)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(g)
    out = {"phased": _nulls(n, pa.bool_()), "calls": _nulls(n, pa.list_(pa.int32())),
           "depth": _nulls(n, pa.int32()), "genotypequality": _nulls(n, pa.int32()),
           "alleledepths": _nulls(n, pa.list_(pa.int32()))}
    if "GT" in typed:
        gt = pc.struct_field(g, "GT")
        allele = pc.struct_field(gt, "allele")
        offsets = allele.offsets.to_numpy()
        # The child values a list array's offsets point at (a null slot may still span values).
        values = allele.values.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
        # -1 for a missing allele ('.' in 0/.); a missing GT stays NULL.
        out["calls"] = pa.ListArray.from_arrays(pa.array(offsets - offsets[0]),
                                                pc.fill_null(pc.cast(values, pa.int32()), -1),
                                                type=pa.list_(pa.int32()), mask=pc.is_null(allele))
        # phased when any separator of the call is '|' (NULL -> false, as DuckDB's list_bool_or + coalesce).
        phased = pc.struct_field(gt, "phased")
        p_off = phased.offsets.to_numpy()
        p_val = phased.values.slice(int(p_off[0]), int(p_off[-1] - p_off[0]))
        flags = pc.fill_null(p_val, False).to_numpy(zero_copy_only=False)
        parents = np.repeat(np.arange(n), np.diff(p_off))
        hits = np.zeros(n, dtype=bool)
        hits[parents[flags]] = True
        out["phased"] = pc.and_(pa.array(hits), pc.fill_null(pc.is_valid(phased), False))
    if "DP" in typed:
        out["depth"] = _as_int32(pc.struct_field(g, "DP"))
    if "GQ" in typed:
        out["genotypequality"] = _as_int32(pc.struct_field(g, "GQ"))
    if "AD" in typed:
        out["alleledepths"] = _as_int32(pc.struct_field(g, "AD"))
    return out


def reshape(batch, rel: str, samples: list[str], target, site: dict, plan: _Plan) -> Iterator:
    """One oxbow batch (m sites) -> Arrow tables of `target`: the m sites for annotations; for variants one
    table of m rows per sample (the site columns are shared, not copied, between them).

    Pure Arrow kernels, no per-row Python: INFO became a map once per batch (`vcf_raw.attributes`), FORMAT values
    per sample (`_genotype_columns`)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    m = batch.num_rows
    columns = _site_columns(batch, rel, site)
    columns["attributes"] = site["attributes"]
    if not samples:
        yield pa.table({name: columns[name] for name in target.names}).cast(target)
        return
    sample_col = batch.column("samples") if "samples" in batch.schema.names else None
    for i, name in enumerate(samples):
        out = dict(columns)
        out["sampleid"] = _constant(name, m)
        if f"attributes:{name}" in site:
            out["attributes"] = site[f"attributes:{name}"]
        if sample_col is not None:
            out.update(_genotype_columns(pc.struct_field(sample_col, [i]), plan.typed))
        else:
            out.update(_genotype_columns(pa.array([{}] * m, pa.struct([])), []))
        yield pa.table({c: out[c] for c in target.names}).cast(target)


def _prefetch(reader, depth: int = 2) -> Iterator:
    """The batches of `reader`, parsed on a second thread while the caller reshapes the previous ones.

    Read through pyarrow's `RecordBatchReader` (oxbow's reader behind the Arrow C stream interface),
    oxbow's Rust parser runs without the GIL; through oxbow's own `batches()` it holds the GIL for a whole
    batch, which would stall the caller's thread. At most `depth` parsed batches wait (bounded memory);
    a parse error is raised in the caller, in order, after the batches before it."""
    import queue
    import threading

    done = object()
    slots: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            while not stop.is_set():
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    break
                if not put(batch):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            put(exc)
            return
        put(done)

    thread = threading.Thread(target=work, name="vcf-parse", daemon=True)
    thread.start()
    try:
        while True:
            item = slots.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()
        reader.close()


class _PipelinedWriter:
    """Writes Arrow tables to one Parquet file on a second thread, so encoding and compressing batch i
    overlaps oxbow parsing batch i+1.

    oxbow holds the GIL while it parses (measured: a spinning Python thread got ~2% of its solo iterations),
    so a second thread only helps for work that releases it: `ParquetWriter.write_table` is one C++ call that
    does. At most `depth` tables wait, so memory stays bounded; an error on the writer thread is raised in
    the caller at its next `write` or at `close`."""

    def __init__(self, out: Path, target, depth: int = 2):
        from concurrent.futures import ThreadPoolExecutor

        self._writer = _writer(out, target)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vcf-parquet")
        self._pending: list = []
        self._depth = depth

    def write(self, table) -> None:
        while len(self._pending) >= self._depth:
            self._pending.pop(0).result()
        self._pending.append(self._pool.submit(self._writer.write_table, table))

    def close(self) -> None:
        try:
            for future in self._pending:
                future.result()
        finally:
            self._pool.shutdown(wait=True)
            self._writer.close()


# Min/max statistics pay off on columns queries filter by; on lists and maps they only cost writing time.
_STAT_COLUMNS = ("sampleid", "contigname", "start", "end", "referenceallele", "qual", "phased", "depth",
                 "genotypequality", SOURCE_COLUMN)
# Dictionary pages help where values repeat (names, alleles, INFO keys), not on free-text INFO values.
_DICT_COLUMNS = ("sampleid", "contigname", "referenceallele", SOURCE_COLUMN, "filters.list.element",
                 "attributes.key_value.key")


def _writer(out: Path, target):
    import pyarrow.parquet as pq

    names = set(target.names)
    return pq.ParquetWriter(
        out, target, compression="zstd",
        write_statistics=[c for c in _STAT_COLUMNS if c in names],
        use_dictionary=[c for c in _DICT_COLUMNS if c.split(".")[0] in names],
    )


def _site_text(batch, raw, i: int) -> str:
    """The record as far as it can be shown: POS and QUAL as written, the rest as oxbow read it."""
    values = []
    for name, table in (("chrom", batch), ("c1", raw), ("id", batch), ("ref", batch), ("alt", batch),
                        ("c5", raw), ("filter", batch)):
        v = table.column(name)[i].as_py()
        values.append("." if v is None else ",".join(map(str, v)) if isinstance(v, list) else str(v))
    return "\t".join(values)
