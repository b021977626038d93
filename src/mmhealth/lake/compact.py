"""Coalescing a run's small Parquet parts before they are committed.

Readers write a part per source file where that keeps them simple and restartable (the VCF reader writes one per
VCF). A variant store of 6,000 genomes would then be 6,000 files, and every query engine pays per file: DuckDB and
Athena open each footer, S3 charges each GET. At commit the small parts of one table that share a schema are copied
into parts of up to `max_rows` rows; each keeps the union of its sources, so replacing one source file later
rewrites the coalesced part without that file's rows, as for any part with several sources."""

from __future__ import annotations

from pathlib import Path

# (db.table, local path, rows, sources, schema fingerprint)
Staged = tuple[str, Path, int, list[str], str]

SMALL_ROWS = 100_000
MAX_ROWS = 1_000_000
ROW_GROUP_ROWS = 128 * 1024  # inputs are buffered up to this, so that tiny inputs do not become tiny row groups


def coalesce(staged: list[Staged], out_dir: Path, small_rows: int = SMALL_ROWS, max_rows: int = MAX_ROWS) -> list[Staged]:
    """The staged parts with the small ones of each (table, schema) group copied into fewer, larger parts.

    At most one row group's worth of input rows is held in memory. Parts that are large already, or alone in their
    group, are left as they are. Written parts are zstd-compressed like every other part; the inputs they replace
    are deleted."""
    groups: dict[tuple[str, str], list[Staged]] = {}
    out: list[Staged] = []
    for entry in staged:
        table, _, rows, _, fingerprint = entry
        if rows < small_rows and fingerprint:
            groups.setdefault((table, fingerprint), []).append(entry)
        else:
            out.append(entry)
    for (table, fingerprint), members in sorted(groups.items()):
        if len(members) == 1:
            out.extend(members)
            continue
        batch: list[Staged] = []
        batch_rows = 0
        for entry in members:
            batch.append(entry)
            batch_rows += entry[2]
            if batch_rows >= max_rows:
                out.append(_copy(batch, out_dir, table, fingerprint))
                batch, batch_rows = [], 0
        if len(batch) == 1:
            out.append(batch[0])
        elif batch:
            out.append(_copy(batch, out_dir, table, fingerprint))
    return out


def _copy(batch: list[Staged], out_dir: Path, table: str, fingerprint: str) -> Staged:
    import pyarrow as pa
    import pyarrow.parquet as pq

    db, name = table.split(".", 1)
    first = batch[0][1]
    path = out_dir / db / name / f"{first.stem}-c{len(batch):05d}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    schema = pq.read_schema(first)
    pending: list = []
    pending_rows = 0
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for _, local, _, _, _ in batch:
            # ParquetFile reads the one file: read_table would treat `key=value` folders as partitions
            pending.append(pq.ParquetFile(local).read())
            pending_rows += pending[-1].num_rows
            if pending_rows >= ROW_GROUP_ROWS:
                writer.write_table(pa.concat_tables(pending), row_group_size=ROW_GROUP_ROWS * 2)
                pending, pending_rows = [], 0
        if pending:
            writer.write_table(pa.concat_tables(pending), row_group_size=ROW_GROUP_ROWS * 2)
    for _, local, _, _, _ in batch:
        local.unlink(missing_ok=True)
    rows = sum(e[2] for e in batch)
    sources = sorted({s for e in batch for s in e[3]})
    return table, path, rows, sources, fingerprint
