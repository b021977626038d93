"""The VCF text oxbow does not hand back: INFO as written, FORMAT keys and raw sample values.

oxbow parses INFO into typed fields from the header's definitions, and silently leaves out what does not fit:
keys the header does not declare, values of another type (`DP=1.5` for an Integer), flags written with a value.
So INFO is not asked of oxbow at all. A second, C++ reader (pyarrow's CSV reader, tab-separated, no quoting)
streams the POS, QUAL, INFO, FORMAT and sample columns of the same file as plain strings, and INFO becomes the
`attributes` map straight from its text: every key kept, every value exactly as written. This costs less than
oxbow's typed INFO parsing did (benchmarks/ingest.md), so the tolerance is free on clean files.

`info_entries` splits INFO with Arrow's string kernels; the map is assembled from the pieces with numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from mmhealth.ingest.genomics.vcf_header import VcfHeader, is_gzip

GT_PATTERN = r"^[/|]?(\.|[0-9]+)([/|](\.|[0-9]+))*(:|$)"
INT_PATTERN = r"^(\.|[+-]?[0-9]+)(,(\.|[+-]?[0-9]+))*$"
FLOAT_PATTERN = (r"^(\.|[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|[+-]?(?i:inf|infinity|nan))"
                 r"(,(\.|[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|[+-]?(?i:inf|infinity|nan)))*$")


class Misaligned(Exception):
    """The raw text and oxbow disagree on the records (a line one of them skipped): the file goes the careful way."""


def raw_batches(path: Path, header: VcfHeader, skip_lines: int | None = None) -> Iterator:
    """POS, QUAL, INFO, FORMAT and sample columns of every record as strings, in file order (pyarrow's CSV
    reader: C++, streaming, without the GIL). Raises on a line with another column count or bytes that are not
    UTF-8; the caller then takes the careful path, which quarantines or repairs those lines."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    names = [f"c{i}" for i in range(header.n_columns)]
    wanted = ["c1", "c5", "c7"] + (names[8:] if header.samples else [])
    stream = pa.input_stream(str(path), compression="gzip" if is_gzip(path) else None)
    reader = pcsv.open_csv(
        stream,
        read_options=pcsv.ReadOptions(skip_rows=header.header_lines if skip_lines is None else skip_lines,
                                      column_names=names, block_size=1 << 22),
        parse_options=pcsv.ParseOptions(delimiter="\t", quote_char=False, double_quote=False, escape_char=False,
                                        newlines_in_values=False, ignore_empty_lines=False),
        convert_options=pcsv.ConvertOptions(include_columns=wanted, column_types={c: pa.string() for c in wanted},
                                            strings_can_be_null=False, quoted_strings_can_be_null=False),
    )
    try:
        for batch in reader:
            yield batch
    finally:
        reader.close()


class Aligner:
    """Hands out the raw rows in slices of exactly the sizes oxbow's batches have."""

    def __init__(self, batches: Iterator):
        self._batches = batches
        self._pending: list = []
        self._rows = 0

    def take(self, n: int):
        import pyarrow as pa

        while self._rows < n:
            try:
                b = next(self._batches)
            except StopIteration:
                raise Misaligned(f"the text has fewer records than oxbow read ({self._rows} < {n})") from None
            self._pending.append(b)
            self._rows += b.num_rows
        table = pa.Table.from_batches(self._pending)
        head, rest = table.slice(0, n), table.slice(n)
        self._pending = rest.to_batches() if rest.num_rows else []
        self._rows -= n
        return head.combine_chunks()

    def finish(self) -> None:
        if self._rows or next(self._batches, None) is not None:
            raise Misaligned("the text has more records than oxbow read")


def column(table, name: str):
    """One raw column as a single (unchunked) string array."""
    col = table.column(name)
    return col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()


@dataclass
class InfoEntries:
    """INFO split into (row, key, value) entries, dropped already: empty keys (`.` INFO, `;;`), missing values
    (`KEY=.`) and repeats of a key within one record (htslib keeps the first)."""

    n_rows: int
    rows: np.ndarray  # int64, entry -> record index (non-decreasing)
    key_index: np.ndarray  # int32 into `key_names`
    key_names: list[str]
    values: object  # pa.StringArray; flags (no '=') read 'true'
    has_value: np.ndarray  # bool, False for a flag written without '='
    duplicates: int  # repeated keys dropped


def info_entries(info) -> InfoEntries:
    """Split a column of INFO strings into entries with Arrow's C++ string kernels: on `;`, then each entry on
    its first `=` (a value may hold more: `X=a=b`). Measured against numpy on the byte buffer and against
    oxbow's typed INFO parsing, this is the cheapest of the three (benchmarks/ingest.md)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(info)
    parts = pc.split_pattern(info, ";")
    offsets = parts.offsets.to_numpy()
    rows = np.repeat(np.arange(n, dtype=np.int32), np.diff(offsets))
    entries = parts.values.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
    kv = pc.split_pattern(entries, "=", max_splits=1)
    kv_off = kv.offsets.to_numpy()
    has_value = np.diff(kv_off) == 2
    flat = kv.values
    keys = flat.take(pa.array(kv_off[:-1]))
    values = flat.take(pa.array(np.where(has_value, kv_off[:-1] + 1, kv_off[:-1])))
    # dropped: empty keys (`.` INFO, `;;`), a bare `.`, and missing values (`KEY=.`)
    drop = pc.or_(pc.equal(keys, ""), pc.equal(values, "."))
    if pc.any(drop).as_py():
        keep = pc.invert(drop)
        idx = np.flatnonzero(keep.to_numpy(zero_copy_only=False))
        keys, values = keys.filter(keep), values.filter(keep)
        rows, has_value = rows[idx], has_value[idx]
    encoded = pc.dictionary_encode(keys)
    if not has_value.all():
        values = pc.if_else(pa.array(has_value), values, pa.scalar("true"))
    return _drop_repeats(InfoEntries(n, rows.astype(np.int64), encoded.indices.to_numpy(zero_copy_only=False),
                                     encoded.dictionary.to_pylist(), values, has_value, 0))


def _drop_repeats(e: InfoEntries) -> InfoEntries:
    """Keep the first of a key written twice in one record (a map cannot hold it twice; htslib keeps the first).
    Found with one bincount over (record, key) cells, row chunk by row chunk to bound memory."""
    import pyarrow as pa

    k = max(len(e.key_names), 1)
    if not len(e.rows):
        return e
    chunk = max(1, 4_000_000 // k)
    repeated = False
    for lo in range(0, e.n_rows, chunk):
        a, b = np.searchsorted(e.rows, [lo, lo + chunk])
        cells = (e.rows[a:b] - lo) * k + e.key_index[a:b]
        if len(cells) and np.bincount(cells).max() > 1:
            repeated = True
            break
    if not repeated:
        return e
    cells = e.rows * k + e.key_index
    _, first_seen = np.unique(cells, return_index=True)
    keep = np.zeros(len(cells), dtype=bool)
    keep[first_seen] = True
    idx = np.flatnonzero(keep)
    return InfoEntries(e.n_rows, e.rows[idx], e.key_index[idx], e.key_names, e.values.take(pa.array(idx)),
                       e.has_value[idx], int(len(cells) - len(idx)))


def attributes(e: InfoEntries, extra: list[tuple[str, object]] = ()):
    """map<string,string> per record: the INFO entries, plus `extra` (key, StringArray with a null where the
    record has no value) - a sample's undeclared FORMAT values."""
    import pyarrow as pa

    keys = pa.array(e.key_names, pa.string()).take(pa.array(e.key_index))
    values, rows = e.values, e.rows
    if extra:
        key_parts, value_parts, row_parts = [keys], [values], [rows]
        for name, col in extra:
            present = np.flatnonzero(col.is_valid().to_numpy(zero_copy_only=False))
            if not len(present):
                continue
            key_parts.append(pa.array([name] * len(present), pa.string()))
            value_parts.append(col.take(pa.array(present)))
            row_parts.append(present.astype(np.int64))
        rows = np.concatenate(row_parts)
        order = np.argsort(rows, kind="stable")
        rows = rows[order]
        keys = pa.concat_arrays(key_parts).take(pa.array(order))
        values = pa.concat_arrays([v.cast(pa.string()) for v in value_parts]).take(pa.array(order))
    offsets = np.zeros(e.n_rows + 1, dtype=np.int32)
    np.cumsum(np.bincount(rows, minlength=e.n_rows), out=offsets[1:])
    return pa.MapArray.from_arrays(pa.array(offsets), keys, values)


def info_end(e: InfoEntries):
    """INFO END per record as int64 (null where absent or not an integer)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    out = np.zeros(e.n_rows, dtype=np.int64)
    valid = np.zeros(e.n_rows, dtype=bool)
    if "END" in e.key_names:
        hit = np.flatnonzero(e.key_index == e.key_names.index("END"))
        vals = e.values.take(pa.array(hit))
        ok = pc.fill_null(pc.match_substring_regex(vals, r"^[0-9]+$"), False).to_numpy(zero_copy_only=False)
        if ok.any():
            out[e.rows[hit[ok]]] = pc.cast(vals.filter(pa.array(ok)), pa.int64()).to_numpy()
            valid[e.rows[hit[ok]]] = True
    return pa.array(out, mask=~valid)


def type_mismatches(e: InfoEntries, types: dict[str, str]) -> dict[str, tuple[int, int]]:
    """INFO key -> (values that are not of the header's Type, first record index), for Integer, Float and Flag
    keys. All values of one Type are cast in one C++ pass (lists split on ','); only when that fails are they
    matched one by one, to say which keys and how many."""
    import pyarrow as pa

    out: dict[str, tuple[int, int]] = {}
    k = len(e.key_names)
    for t in ("Integer", "Float", "Flag"):
        lut = np.array([types.get(name) == t for name in e.key_names] + [False], dtype=bool)
        if not lut[:k].any():
            continue
        selected = lut[e.key_index]
        if t == "Flag":
            bad = np.flatnonzero(selected & e.has_value)
        else:
            idx = np.flatnonzero(selected)
            mask = _not_numeric(e.values.take(pa.array(idx)), t) if len(idx) else None
            bad = idx[mask] if mask is not None else idx[:0]
        if not len(bad):
            continue
        keys = e.key_index[bad]
        counts = np.bincount(keys, minlength=k)
        for j in np.flatnonzero(counts):
            out[e.key_names[j]] = (int(counts[j]), int(e.rows[bad[np.argmax(keys == j)]]))
    return out


def _not_numeric(vals, type_: str):
    """Bool mask of values that are not `type_` numbers (comma lists allowed, '.' elements too), or None when
    all are."""
    import pyarrow as pa
    import pyarrow.compute as pc

    target = pa.int64() if type_ == "Integer" else pa.float64()
    try:
        lists = pc.match_substring(vals, ",")
        if pc.any(lists).as_py():
            parts = pc.list_flatten(pc.split_pattern(vals.filter(lists), ","))
            pc.cast(parts.filter(pc.not_equal(parts, ".")), target)
            pc.cast(vals.filter(pc.invert(lists)), target)
        else:
            pc.cast(vals, target)
        return None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    pattern = INT_PATTERN if type_ == "Integer" else FLOAT_PATTERN
    ok = pc.fill_null(pc.match_substring_regex(vals, pattern), False).to_numpy(zero_copy_only=False)
    return None if ok.all() else ~ok


def format_keys(formats) -> tuple[np.ndarray, list[list[str]]]:
    """FORMAT column -> (per-record index into the distinct FORMAT strings, their keys)."""
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(formats)
    return (encoded.indices.to_numpy(zero_copy_only=False),
            [[] if f in (".", "") else f.split(":") for f in encoded.dictionary.to_pylist()])


def subfield(samples, key_at: np.ndarray):
    """The `key_at[i]`-th ':'-separated value of each sample string (null where key_at < 0 or the sample has
    fewer values: trailing FORMAT fields may be dropped)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    parts = pc.split_pattern(samples, ":")
    offs = parts.offsets.to_numpy()
    lens = np.diff(offs)
    ok = (key_at >= 0) & (key_at < lens)
    flat = parts.values
    take = np.where(ok, offs[:-1] + np.maximum(key_at, 0), 0)
    vals = flat.take(pa.array(take)) if len(flat) else pa.nulls(len(samples), pa.string())
    return pc.if_else(pa.array(ok), vals, pa.scalar(None, pa.string()))
