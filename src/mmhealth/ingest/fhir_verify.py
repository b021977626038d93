"""Proof that a Parquet part kept every key of its NDJSON source, so schema inference may use a sample.

DuckDB's `read_json` silently ignores keys its column types do not name. Inferring the types from every record
rules that out but costs about as much as the whole copy; inferring from a sample is cheap but could drop a
rare element. So we infer from a sample and then check that nothing was dropped, by counting keys:

- source: the number of object keys in the file is the number of `":` (a quote closing a key, then the
  colon) in its bytes, counted in one pass over the file;
- Parquet: every non-null struct field is one key; inside JSON text (extensions) keys are counted as on the
  source side. Arrow's validity bitmaps make this a sum of null counts.

Equal counts mean every key of the source landed in a column. What can make the counts unreliable (a `":`
inside a string value, a JSON `null`, whitespace before a colon) makes the source side larger or the two sides
differ: the file then goes back through full-record inference. The check can cost time, never data.
"""

from __future__ import annotations

import gzip
from pathlib import Path

from mmhealth.ingest.records import SOURCE_COLUMN

_CHUNK = 1 << 22


def raw_key_count(path: Path) -> int:
    """Occurrences of `":` in the file (the keys of every object, at every depth, in compact JSON)."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    total = 0
    tail = b""
    with opener(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            buf = tail + chunk
            total += buf.count(b'":') - tail.count(b'":')
            tail = buf[-1:]
    return total


def _json_keys(arr) -> int:
    import pyarrow as pa
    import pyarrow.compute as pc

    storage = arr.storage if isinstance(arr, pa.ExtensionArray) else arr
    return int(pc.sum(pc.count_substring(storage, '":')).as_py() or 0)


def _keys_inside(arr) -> int:
    """Keys carried inside the values of `arr` (not counting the keys that name `arr` itself)."""
    import pyarrow as pa

    t = arr.type
    if isinstance(t, pa.JsonType):
        return _json_keys(arr)
    if pa.types.is_struct(t):
        total = 0
        for child in arr.flatten():  # children with the parent's nulls applied
            total += len(child) - child.null_count + _keys_inside(child)
        return total
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return _keys_inside(arr.flatten())
    return 0


def parquet_key_count(part: Path) -> int:
    """Keys the rows of `part` carry (the lake's own `lake_source` excluded)."""
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(part)
    names = [n for n in pf.schema_arrow.names if n != SOURCE_COLUMN]
    total = 0
    for batch in pf.iter_batches(columns=names, batch_size=65536):
        for col in batch.columns:
            total += len(col) - col.null_count + _keys_inside(col)
    return total
