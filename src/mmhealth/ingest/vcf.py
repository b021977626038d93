"""VCF / VCF.gz (single- or multi-sample, and ClinVar-style sites-only files) to HealthOmics-shaped rows.

oxbow parses the file into Arrow batches (noodles, in Rust) on one thread; each batch is checked (POS, REF, and
REF against the reference when one is given), bad sites are cut out and quarantined, and Arrow kernels reshape
the rest: one row per sample and site, `calls` with -1 for a missing allele, INFO as a `map<string,string>`;
a third thread writes the Parquet. Parsing, reshaping and writing of successive batches overlap.
A file oxbow cannot parse goes through a line-level check in Python first (`_clean_copy`), which quarantines
the lines that break it and hands oxbow a clean copy: positions in the quarantine are the original lines.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from mmhealth.ingest.fasta import Reference
from mmhealth.ingest.records import SOURCE_COLUMN, Quarantined

MODALITY = "genomics"
VCF_SUFFIXES = (".vcf", ".vcf.gz", ".vcf.bgz")
FIXED_COLUMNS = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]
_REF_OK = re.compile(r"^[ACGTNacgtn]+$")
# The FORMAT fields the variants table keeps. oxbow is asked for these only: parsing the others (PL above
# all, a list per sample) was a third of its time on GATK-style files, for columns the lake never stores.
# A field the header does not declare is left out by oxbow (and the genotype SQL writes NULL for it).
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


@dataclass
class VcfHeader:
    header_lines: int = 0
    samples: list[str] = field(default_factory=list)
    problem: str | None = None

    @property
    def table(self) -> str:
        # One row per sample and site needs samples; a sites-only VCF (ClinVar) is an annotation source.
        return "variants" if self.samples else "annotations"


def _open_text(path: Path):
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace", newline="")
    return open(path, "rt", encoding="utf-8", errors="replace", newline="")


def read_header(path: Path) -> VcfHeader:
    """The header's line count and samples, and what makes it invalid (the whole file is quarantined then)."""
    h = VcfHeader()
    with _open_text(path) as fh:
        first = True
        for line in fh:
            line = line.rstrip("\r\n")
            if first:
                first = False
                if not line.startswith("##fileformat=VCF"):
                    h.problem = "invalid-vcf-header: first line is not ##fileformat=VCFv4.x"
                    return h
            if line.startswith("##"):
                h.header_lines += 1
                continue
            if line.startswith("#"):
                h.header_lines += 1
                cols = line.split("\t")
                if cols[:8] != FIXED_COLUMNS:
                    h.problem = "invalid-vcf-header: #CHROM line does not start with the 8 fixed VCF columns"
                elif len(cols) > 8 and (cols[8] != "FORMAT" or len(cols) == 9):
                    h.problem = "invalid-vcf-header: column 9 must be FORMAT followed by at least one sample"
                else:
                    h.samples = cols[9:]
                    if any(not s.strip() for s in h.samples):
                        h.problem = "invalid-vcf-header: empty sample name in the #CHROM line (stray tab?)"
                    elif len(set(h.samples)) != len(h.samples):
                        h.problem = "invalid-vcf-header: duplicate sample names in the #CHROM line"
                return h
            h.problem = "invalid-vcf-header: no #CHROM header line before the first record"
            return h
    h.problem = "invalid-vcf-header: no #CHROM header line"
    return h


def _line_problem(cols: list[str], n_cols: int) -> str:
    """Why a data line cannot be a VCF record ('' when it can)."""
    if len(cols) != n_cols:
        return f"invalid-vcf-line: {len(cols)} columns, the header declares {n_cols}"
    if not cols[1].isdigit():
        return f"invalid-vcf-line: POS {cols[1][:20]!r} is not a positive integer"
    if not _REF_OK.match(cols[3]):
        return f"invalid-vcf-line: REF {cols[3][:20]!r} is not a sequence of A/C/G/T/N"
    if cols[5] != ".":
        try:
            float(cols[5])
        except ValueError:
            return f"invalid-vcf-line: QUAL {cols[5][:20]!r} is not a number"
    if n_cols > 8:
        n_keys = len(cols[8].split(":"))
        for value in cols[9:]:
            if len(value.split(":")) > n_keys:
                return "invalid-vcf-line: a sample has more values than FORMAT declares"
    return ""


def clean_copy(path: Path, rel: str, header: VcfHeader, out: Path) -> tuple[list[int], list[Quarantined]]:
    """Copy `path` to plain-text `out` without the lines that cannot be records. Returns the original line
    number of every record kept, and the quarantined lines."""
    n_cols = 8 + (1 + len(header.samples) if header.samples else 0)
    kept: list[int] = []
    bad: list[Quarantined] = []
    with _open_text(path) as fh, open(out, "w", encoding="utf-8") as dst:
        for lineno, line in enumerate(fh, start=1):
            if line.startswith("#"):
                dst.write(line)
                continue
            body = line.rstrip("\r\n")
            if not body.strip():
                continue
            problem = _line_problem(body.split("\t"), n_cols)
            if problem:
                bad.append(Quarantined(rel, f"line {lineno}", MODALITY, problem, body))
            else:
                dst.write(body + "\n")
                kept.append(lineno)
    return kept, bad


@dataclass
class VcfResult:
    records: int = 0
    loaded_sites: int = 0
    rows: int = 0
    quarantined: list[Quarantined] = field(default_factory=list)


def info_map(info):
    """The INFO struct column as map<string, string> (lists joined by ',', flags 'true', absent keys left out).

    Built with Arrow kernels: values are cast field by field, gathered row-major and stripped of nulls, so
    no per-row expression runs (a SQL map_from_entries over list_filter cost ten times more)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(info)
    names, cols = [], []
    for i, f in enumerate(info.type):
        col = info.field(i)
        if col.null_count == n:
            continue  # no row of the batch has this key (e.g. END on a GATK file)
        if pa.types.is_boolean(f.type):  # a flag: present -> 'true', absent -> no key
            col = pc.if_else(col, pa.scalar("true"), pa.scalar(None, pa.string()))
        elif pa.types.is_list(f.type) or pa.types.is_large_list(f.type) or pa.types.is_fixed_size_list(f.type):
            col = pc.binary_join(pc.cast(col, pa.list_(pa.string())), ",")
        else:
            col = pc.cast(col, pa.string())
        names.append(f.name)
        cols.append(col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col)
    k = len(names)
    if k == 0:
        return pa.MapArray.from_arrays(pa.array(np.zeros(n + 1, dtype=np.int32)), pa.array([], pa.string()),
                                       pa.array([], pa.string()))
    # Which (row, field) pairs have a value, in row-major order; gather just those.
    present = np.empty((n, k), dtype=bool)
    for j, c in enumerate(cols):
        present[:, j] = c.is_valid().to_numpy(zero_copy_only=False)
    rows, fields = np.nonzero(present)
    values = pa.concat_arrays(cols).take(pa.array(fields * n + rows))
    keys = pa.array(names, pa.string()).take(pa.array(fields.astype(np.int32)))
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(present.sum(axis=1), out=offsets[1:])
    return pa.MapArray.from_arrays(pa.array(offsets), keys, values)


def _site_columns(batch, rel: str) -> dict:
    """The site columns except `attributes` (built by `info_map`), with Arrow kernels.

    (A DuckDB query did this before: it cost an Arrow -> DuckDB -> Arrow round trip per batch, and with
    `preserve_insertion_order=false` nothing promised its rows kept the batch's order, which `info_map`
    and the genotypes rely on.)"""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = batch.num_rows
    start = pc.cast(batch.column("pos"), pa.int64())
    end = pc.add(start, pc.cast(pc.binary_length(batch.column("ref")), pa.int64()))
    if "info" in batch.schema.names and "END" in [f.name for f in batch.schema.field("info").type]:
        # INFO END is 1-based inclusive, i.e. the 0-based exclusive end as it stands.
        end = pc.coalesce(pc.cast(pc.struct_field(batch.column("info"), "END"), pa.int64()), end)
    ids = batch.column("id")
    filters = batch.column("filter")
    pass_ = pa.scalar(["PASS"], pa.list_(pa.string()))
    return {
        "contigname": pc.cast(batch.column("chrom"), pa.string()),
        "start": start,
        "end": end,
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
    import numpy as np
    import pyarrow as pa

    return pa.array(np.zeros(n, dtype=np.int32))


def _constant(value: str, n: int):
    import pyarrow as pa

    return pa.DictionaryArray.from_arrays(_zeros(n), pa.array([value], pa.string())).dictionary_decode()


def _genotype_columns(g) -> dict:
    """Per-sample FORMAT values from the struct array `g` (one sample's FORMAT fields per row)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(g)
    names = {f.name for f in g.type}
    out = {"phased": _nulls(n, pa.bool_()), "calls": _nulls(n, pa.list_(pa.int32())),
           "depth": _nulls(n, pa.int32()), "genotypequality": _nulls(n, pa.int32()),
           "alleledepths": _nulls(n, pa.list_(pa.int32()))}
    if "GT" in names:
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
    if "DP" in names:
        out["depth"] = pc.cast(pc.struct_field(g, "DP"), pa.int32())
    if "GQ" in names:
        gq = pc.struct_field(g, "GQ")
        if pa.types.is_floating(gq.type):
            gq = pc.round(gq, round_mode="half_towards_infinity")
        out["genotypequality"] = pc.cast(gq, pa.int32())
    if "AD" in names:
        out["alleledepths"] = pc.cast(pc.struct_field(g, "AD"), pa.list_(pa.int32()))
    return out


def reshape(batch, rel: str, samples: list[str], target) -> Iterator:
    """One oxbow batch (m sites) -> Arrow tables of `target`: the m sites for annotations; for variants one
    table of m rows per sample (the site columns are shared, not copied, between them).

    Pure Arrow kernels, no per-row Python: INFO becomes a map once per batch (`info_map`), FORMAT values
    per sample (`_genotype_columns`)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    m = batch.num_rows
    columns = _site_columns(batch, rel)
    if "info" in batch.schema.names:
        columns["attributes"] = info_map(batch.column("info"))
    else:
        columns["attributes"] = info_map(pa.array([{}] * m, pa.struct([])))
    if not samples:
        yield pa.table({name: columns[name] for name in target.names}).cast(target)
        return
    sample_col = batch.column("samples")
    for i in range(sample_col.type.num_fields):
        out = dict(columns)
        out["sampleid"] = _constant(sample_col.type.field(i).name, m)
        out.update(_genotype_columns(pc.struct_field(sample_col, [i])))
        yield pa.table({c: out[c] for c in target.names}).cast(target)


def _bad_sites(batch, reference: Reference | None) -> dict[int, str]:
    """Row index -> reason, for sites oxbow read but the lake must not load."""
    import pyarrow.compute as pc

    bad: dict[int, str] = {}
    pos_null = pc.is_null(batch.column("pos"))
    ref = batch.column("ref")
    ref_bad = pc.invert(pc.fill_null(pc.match_substring_regex(ref, r"^[ACGTNacgtn]+$"), False))
    flagged = pc.or_(pos_null, ref_bad)
    if pc.any(flagged).as_py():
        for i in pc.indices_nonzero(flagged).to_pylist():
            if batch.column("pos")[i].as_py() is None:
                bad[i] = "invalid-vcf-line: POS is missing or not a number"
            else:
                bad[i] = f"invalid-vcf-line: REF {ref[i].as_py()!r} is not a sequence of A/C/G/T/N"
    if reference is not None:
        chroms = pc.cast(batch.column("chrom"), "string").to_pylist()
        starts = batch.column("pos").to_pylist()
        refs = ref.to_pylist()
        for i, (c, s, r) in enumerate(zip(chroms, starts, refs)):
            if i in bad:
                continue
            expected = reference.fetch(c, s, len(r))
            if expected is None:
                bad[i] = f"ref-mismatch: reference does not cover {c}:{s + 1}"
            elif expected != r.upper().encode():
                bad[i] = f"ref-mismatch: REF {r} at {c}:{s + 1} but the reference has {expected.decode()}"
    return bad


def convert(path: Path, rel: str, header: VcfHeader, out: Path, reference: Reference | None,
            line_of: list[int] | None = None, progress=None) -> VcfResult:
    """Stream `path` into the Parquet file `out`. Raises what oxbow raises (the caller falls back)."""
    import oxbow
    import pyarrow as pa

    target = variants_schema() if header.samples else annotations_schema()
    src = oxbow.from_vcf(str(path), samples="*" if header.samples else None, samples_nested=True, coords="01",
                         genotype_fields=GENOTYPE_FIELDS if header.samples else None)
    result = VcfResult()
    writer = _PipelinedWriter(out, target)
    batches = _prefetch(pa.RecordBatchReader.from_stream(src.scanner().scan(columns=src.columns,
                                                                            batch_size=BATCH_SITES)))
    try:
        for batch in batches:
            if "info" in batch.schema.names and batch.schema.field("info").type.num_fields == 0:
                batch = batch.drop_columns(["info"])
            n = batch.num_rows
            bad = _bad_sites(batch, reference)
            for i, reason in sorted(bad.items()):
                record = result.records + i
                line = line_of[record] if line_of else header.header_lines + record + 1
                result.quarantined.append(Quarantined(rel, f"line {line}", MODALITY, reason, _site_text(batch, i)))
            if bad:
                keep = pa.array([i not in bad for i in range(n)])
                batch = batch.filter(keep)
            result.records += n
            result.loaded_sites += batch.num_rows
            for table in reshape(batch, rel, header.samples, target):
                writer.write(table)
                result.rows += table.num_rows
    finally:
        batches.close()
        writer.close()  # no records: an empty part still keeps the table's columns known
    return result


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


def _site_text(batch, i: int) -> str:
    cols = [c for c in ("chrom", "pos", "id", "ref", "alt", "qual", "filter") if c in batch.schema.names]
    values = []
    for c in cols:
        v = batch.column(c)[i].as_py()
        if c == "pos" and v is not None:
            v += 1  # back to VCF's 1-based POS
        values.append("." if v is None else ",".join(map(str, v)) if isinstance(v, list) else str(v))
    return "\t".join(values)
