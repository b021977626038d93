"""Proof that a Parquet part kept every key of its NDJSON source, so schema inference may use a sample.

DuckDB's `read_json` silently ignores keys its column types do not name. Inferring the types from every record
rules that out but costs about as much as the whole copy; inferring from a sample is cheap but could drop a
rare element. So we infer from a sample and then check that nothing was dropped, by counting keys on both
sides. The check is sound when the source count never falls below the number of keys the records hold and the
Parquet count never rises above the number of keys the part kept: then equal counts leave no room for a lost
key, and any slack on either side can only make them differ (the file is then redone with the schema of every
record - the check can cost time, never data).

- Source: JSON's grammar puts a key's closing quote, then optional whitespace (space, tab, CR, LF), then the
  colon; a colon anywhere else is inside a string. So every key is a colon whose previous byte is `"` or
  whitespace, and we count exactly those colons, whatever the formatting (`"key":`, `"key" :`,
  `"key"\t:`). Colons inside strings that happen to follow a quote or a space (`"a \\": b"`, `"ratio 1 : 2"`)
  only raise the count. One vectorized pass (numpy) over the decompressed bytes.
- Parquet: every non-null struct field is one key the part kept. Inside JSON text (extensions, the parts of a
  resource below the typed depth, fields whose records disagree on a type), DuckDB writes compact JSON in which
  a `"` inside a string is always escaped: a `":` whose quote is not preceded by a backslash closes a key, so
  `count('":') - count('\\":')` never counts more keys than the text holds (a key ending in an escaped
  backslash is missed: that only lowers the count).

The same pass over the part measures how deep the JSON text can reach (opening brackets per value, an upper
bound of its nesting), so records nested deeper than the lake takes are caught even when the copy stored them.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

from mmhealth.ingest.records import LINEAGE_COLUMNS

_CHUNK = 1 << 22


def _key_terminators():
    import numpy as np

    table = np.zeros(256, dtype=bool)
    for byte in b'" \t\r\n':
        table[byte] = True
    return table


def raw_key_count(path: Path) -> int:
    """An upper bound of the object keys in the file, at every depth: colons that follow `"` or whitespace."""
    import numpy as np

    ends = _key_terminators()
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    total = 0
    previous = 0  # last byte of the previous chunk (a key may end exactly at a chunk boundary)
    with opener(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            data = np.frombuffer(chunk, np.uint8)
            colons = np.flatnonzero(data == 58)
            if colons.size:
                if colons[0] == 0:
                    total += int(ends[previous])
                    colons = colons[1:]
                total += int(np.count_nonzero(ends[data[colons - 1]]))
            previous = int(data[-1])
    return total


@dataclass(frozen=True)
class PartCheck:
    keys: int  # keys the rows carry (lineage columns excluded)
    json_openers: int  # the most `{`/`[` in one JSON text value: an upper bound of how deep that value nests


def _json_text(arr):
    import pyarrow as pa

    return arr.storage if isinstance(arr, pa.ExtensionArray) else arr


def _json_stats(arr) -> tuple[int, int]:
    import pyarrow.compute as pc

    text = _json_text(arr)
    keys = int(pc.sum(pc.count_substring(text, '":')).as_py() or 0)
    keys -= int(pc.sum(pc.count_substring(text, '\\":')).as_py() or 0)
    openers = pc.add(pc.count_substring(text, "{"), pc.count_substring(text, "["))
    return keys, int(pc.max(openers).as_py() or 0)


def _inside(arr) -> tuple[int, int]:
    """(keys carried inside the values of `arr`, not counting the key that names `arr`; most JSON openers)."""
    import pyarrow as pa

    t = arr.type
    if isinstance(t, pa.JsonType):
        return _json_stats(arr)
    if pa.types.is_struct(t):
        keys = openers = 0
        for child in arr.flatten():  # children with the parent's nulls applied
            k, o = _inside(child)
            keys += len(child) - child.null_count + k
            openers = max(openers, o)
        return keys, openers
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return _inside(arr.flatten())
    return 0, 0


def check_part(part: Path) -> PartCheck:
    """Keys the rows of `part` carry (the lake's lineage columns excluded), and how deep its JSON text may go."""
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(part)
    names = [n for n in pf.schema_arrow.names if n not in LINEAGE_COLUMNS]
    keys = openers = 0
    for batch in pf.iter_batches(columns=names, batch_size=65536):
        for col in batch.columns:
            k, o = _inside(col)
            keys += len(col) - col.null_count + k
            openers = max(openers, o)
    return PartCheck(keys, openers)


def parquet_key_count(part: Path) -> int:
    """Keys the rows of `part` carry (the lake's lineage columns excluded)."""
    return check_part(part).keys
