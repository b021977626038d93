"""FHIR R4 reader: bulk-export NDJSON and Bundles into HealthLake-shaped Parquet, reshaped inside DuckDB.

Fast path (a well-formed NDJSON file of one resource type): DuckDB infers the union schema of every record in
the file, then one `COPY (SELECT CAST(...) ...) TO parquet` reads, reshapes (see `fhir_schema`) and writes.
Rows that came out without `resourceType`/`id` (malformed JSON becomes an all-NULL row under
`ignore_errors`) or files holding several resource types send the file down the careful path: the bad
records are located by ordinal, their raw lines read back for the quarantine excerpt, and the good rows are
split by type from the Parquet just written, so the source is still parsed only twice.

Bundles and files DuckDB cannot read at all go through Python (`_Spool`): each resource is validated,
references resolved, and written to a per-type NDJSON spool that then takes the fast path.
"""

from __future__ import annotations

import gzip
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from mmhealth.ingest import bundle as bundles
from mmhealth.ingest.duck import connect, ident, sql_str
from mmhealth.ingest.fhir_types import R4_RESOURCE_TYPES
from mmhealth.ingest.fhir_verify import parquet_key_count, raw_key_count
from mmhealth.ingest.fhir_schema import read_columns_literal, select_list, shape_columns
from mmhealth.ingest.records import (
    SOURCE_COLUMN,
    FileDone,
    Output,
    ParquetPart,
    Quarantined,
    ReadContext,
    Skipped,
    SourceFile,
)

MODALITY = "fhir"
DATABASE = "healthlake"
# Bulk-export status logs and OperationOutcome lines are not clinical data: skipped and counted.
LOG_FILE_NAMES = frozenset({"log.ndjson"})
SKIPPED_TYPES = frozenset({"OperationOutcome"})
NON_FHIR_JSON = frozenset({"manifest.json", "corruptions.json"})
MAX_OBJECT_BYTES = 64 * 1024 * 1024
# Records DuckDB infers the schema from before the copy; fhir_verify proves afterwards that they covered every
# key of the file, else the file is redone with the schema of every record. 0 = always every record.
SCHEMA_SAMPLE = 2_048
_READ_OPTS = f"format='newline_delimited', ignore_errors=true, maximum_object_size={MAX_OBJECT_BYTES}"


def is_ndjson(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(".ndjson") or name.endswith(".ndjson.gz")


def _looks_like_fhir_json(path: Path) -> bool:
    """A `.json` file is FHIR if it opens as an object naming a resourceType near its start."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return True  # claim it, so the unreadable file is quarantined rather than silently ignored
    return head.lstrip()[:1] == b"{" and b'"resourceType"' in head


class FhirReader:
    name = MODALITY

    def discover(self, root: Path) -> Iterator[Path]:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for fn in sorted(filenames):
                path = Path(dirpath) / fn
                if is_ndjson(path):
                    yield path
                elif fn.lower().endswith(".json") and fn not in NON_FHIR_JSON and _looks_like_fhir_json(path):
                    yield path

    def read(self, files: list[SourceFile], ctx: ReadContext) -> Iterator[Output]:
        from concurrent.futures import ThreadPoolExecutor

        conn = connect(ctx.staging_dir, ctx.options.get("duckdb_memory", "1GB"))
        spool = _Spool(ctx.staging_dir / "fhir-spool")
        # A small pipeline keeps both cores busy: while file i is copied (DuckDB, multi-threaded), file i+1's
        # schema is inferred and its key counted (thread 1), and file i-1's Parquet keys are counted (thread 2).
        # Files finish one step late; the lake does not care about the order of outputs across files.
        bulk = [f for f in files if is_ndjson(f.path) and f.path.name.lower() not in LOG_FILE_NAMES]
        position = {f.rel: i for i, f in enumerate(bulk)}
        sample = int(ctx.options.get("fhir_schema_sample", SCHEMA_SAMPLE)) or None
        infer_pool = ThreadPoolExecutor(max_workers=1)
        check_pool = ThreadPoolExecutor(max_workers=1)
        pending = {}

        def prefetch(i: int) -> None:
            if i < len(bulk):
                pending[bulk[i].rel] = infer_pool.submit(_infer_file, conn, bulk[i].path, sample)

        prefetch(0)
        deferred = None
        try:
            for f in files:
                if f.rel in position:
                    future = pending.pop(f.rel)
                    prefetch(position[f.rel] + 1)
                    finish = self._start(conn, f, ctx, spool, future, check_pool)
                    if deferred is not None:
                        yield from deferred()
                    deferred = finish
                elif is_ndjson(f.path):
                    yield from _log_file(f)
                else:
                    yield from _bundle_file(f, spool)
                if ctx.progress is not None:
                    ctx.progress.update(f.size)
            if deferred is not None:
                yield from deferred()
            for rtype, path in spool.close():
                yield from _copy_spool(conn, rtype, path, ctx)
        finally:
            infer_pool.shutdown(wait=True, cancel_futures=True)
            check_pool.shutdown(wait=True, cancel_futures=True)
            conn.close()

    def _start(self, conn, f: SourceFile, ctx: ReadContext, spool: "_Spool", inferred, check_pool):
        """Copy one bulk NDJSON file now; return a function that finishes it (verify, split, quarantine) and
        gives its outputs. Outputs are collected before they are handed out: a failure half-way must not leave
        outputs that the careful path would repeat."""
        import duckdb

        careful = (duckdb.Error, _NeedsCarefulPath, OSError, EOFError)
        try:
            result = inferred.result()
            if result.error is not None:
                raise result.error
            state = _fast_copy(conn, f, ctx, result)
        except careful:
            # DuckDB could not read it (e.g. invalid UTF-8, or no record has resourceType/id): Python decides,
            # line by line, what is loadable.
            outputs = list(_ndjson_careful(f, spool))
            return lambda: iter(outputs)
        check = check_pool.submit(parquet_key_count, state.tmp) if state.raw_keys is not None else None

        def finish():
            try:
                outputs = list(_fast_finish(conn, f, ctx, state, check))
            except careful:
                outputs = list(_ndjson_careful(f, spool))
            return iter(outputs)

        return finish


def _log_file(f: SourceFile) -> Iterator[Output]:
    n = sum(1 for _ in _raw_records(f.path))
    yield Skipped(f.rel, "file", "bulk-export-log", n)
    yield FileDone(f.rel, read=n, loaded=0, quarantined=0, skipped=n)


class _NeedsCarefulPath(Exception):
    pass


def _infer(conn, source_sql: str, sample: int | None = None):
    """Column shapes from every record (`sample=None`) or from the first `sample` records."""
    rel = conn.sql(
        f"SELECT * FROM read_json({source_sql}, {_READ_OPTS}, sample_size={sample or -1}, maximum_depth=-1, "
        "map_inference_threshold=-1) LIMIT 0"
    )
    return shape_columns(rel.columns, rel.types)


@dataclass
class _Inferred:
    shapes: list | None
    raw_keys: int | None  # keys in the source bytes, for fhir_verify; None when shapes are from every record
    error: Exception | None = None


def _infer_file(conn, path: Path, sample: int | None) -> _Inferred:
    """Column shapes of an NDJSON file, on its own cursor so it can run in a thread while another file is
    copied. With `sample`, also the source's key count, to prove afterwards that the sample missed nothing."""
    import duckdb

    cur = conn.cursor()
    try:
        shapes = _infer(cur, f"'{sql_str(str(path))}'", sample)
        return _Inferred(shapes, raw_key_count(path) if sample else None)
    except (duckdb.Error, OSError, EOFError) as exc:
        return _Inferred(None, None, exc)
    finally:
        cur.close()


def _copy(conn, src: str, rel: str, shapes, out: Path) -> list[tuple]:
    """The one statement that reads, reshapes and writes; returns (resourcetype, rows, rows with id)."""
    names = {s.source_name for s in shapes}
    if "resourceType" not in names or "id" not in names:
        raise _NeedsCarefulPath
    conn.execute(
        f"COPY (SELECT {select_list(shapes)}, '{sql_str(rel)}' AS {SOURCE_COLUMN} "
        f"FROM read_json({src}, {_READ_OPTS}, columns={read_columns_literal(shapes)})) "
        f"TO '{sql_str(str(out))}' (FORMAT parquet, COMPRESSION zstd)"
    )
    return conn.execute(
        f"SELECT resourcetype, count(*), count(id) FROM read_parquet('{sql_str(str(out))}') GROUP BY 1"
    ).fetchall()


def _clean(groups) -> bool:
    """One known, loadable resource type and every row with an id: the common case."""
    return (
        len(groups) == 1
        and groups[0][0] in R4_RESOURCE_TYPES
        and groups[0][0] not in SKIPPED_TYPES
        and groups[0][1] == groups[0][2]
    )


@dataclass
class _CopyState:
    src: str
    tmp: Path
    shapes: list
    groups: list
    raw_keys: int | None  # set while the part's completeness is still to be proven


def _fast_copy(conn, f: SourceFile, ctx: ReadContext, inferred: _Inferred) -> _CopyState:
    src = f"'{sql_str(str(f.path))}'"
    tmp = ctx.part_path(DATABASE, "_unsorted")
    if inferred.raw_keys is not None:
        try:
            groups = _copy(conn, src, f.rel, inferred.shapes, tmp)
        except _NeedsCarefulPath:
            groups = None
        if groups is not None and _clean(groups):
            return _CopyState(src, tmp, inferred.shapes, groups, inferred.raw_keys)
        # Bad lines, several types, or no resourceType in the sample: go exact before anything else.
        shapes = _infer(conn, src)
    else:
        shapes = inferred.shapes
    return _CopyState(src, tmp, shapes, _copy(conn, src, f.rel, shapes, tmp), None)


def _proven(check, raw_keys: int) -> bool:
    try:
        return check.result() == raw_keys
    except Exception:  # an unreadable part proves nothing; the exact path decides
        return False


def _fast_finish(conn, f: SourceFile, ctx: ReadContext, state: _CopyState, check) -> Iterator[Output]:
    src, tmp, shapes, groups = state.src, state.tmp, state.shapes, state.groups
    if check is not None and not _proven(check, state.raw_keys):
        # The sampled schema missed something (or the proof failed): redo with the schema of every record.
        shapes = _infer(conn, src)
        groups = _copy(conn, src, f.rel, shapes, tmp)
    read = sum(n for _, n, _ in groups)
    if _clean(groups):
        rtype, n, _ = groups[0]
        final = ctx.part_path(DATABASE, rtype.lower())
        os.replace(tmp, final)
        yield ParquetPart(DATABASE, rtype.lower(), final, n, (f.rel,))
        yield FileDone(f.rel, read=n, loaded=n, quarantined=0, skipped=0)
        return
    # Careful path: some rows are bad, skipped, or of several types.
    loaded = skipped = 0
    unknown = [rt for rt, _, _ in groups if rt and rt not in R4_RESOURCE_TYPES]
    unknown_sql = ", ".join(f"'{sql_str(rt)}'" for rt in unknown) or "NULL"
    bad_ordinals = [
        r[0]
        for r in conn.execute(
            f"SELECT ordinality FROM read_json({src}, {_READ_OPTS}, "
            "columns={'resourceType': 'VARCHAR', 'id': 'VARCHAR'}) WITH ORDINALITY "
            f"WHERE resourceType IS NULL OR id IS NULL OR resourceType IN ({unknown_sql})"
        ).fetchall()
    ]
    quarantined = list(_quarantine_ordinals(f, set(bad_ordinals)))
    yield from quarantined
    tmp_sql = f"read_parquet('{sql_str(str(tmp))}')"
    for rtype, n, n_id in groups:
        if not rtype or rtype in unknown:
            continue
        if rtype in SKIPPED_TYPES:
            yield Skipped(f.rel, "records", f"not-clinical-data: {rtype}", n)
            skipped += n
            continue
        part = ctx.part_path(DATABASE, rtype.lower())
        cols = _columns_present(conn, tmp_sql, rtype, [s.lake_name for s in shapes] + [SOURCE_COLUMN])
        conn.execute(
            f"COPY (SELECT {', '.join(ident(c) for c in cols)} FROM {tmp_sql} "
            f"WHERE resourcetype = '{sql_str(rtype)}' AND id IS NOT NULL) "
            f"TO '{sql_str(str(part))}' (FORMAT parquet, COMPRESSION zstd)"
        )
        yield ParquetPart(DATABASE, rtype.lower(), part, n_id, (f.rel,))
        loaded += n_id
    tmp.unlink()
    yield FileDone(f.rel, read=read, loaded=loaded, quarantined=len(quarantined), skipped=skipped)


def _columns_present(conn, table_sql: str, rtype: str, columns: list[str]) -> list[str]:
    """Top-level columns with at least one value for `rtype` (a file mixing types must not give every table
    every other type's columns)."""
    counts = conn.execute(
        f"SELECT {', '.join(f'count({ident(c)})' for c in columns)} FROM {table_sql} "
        f"WHERE resourcetype = '{sql_str(rtype)}' AND id IS NOT NULL"
    ).fetchone()
    return [c for c, n in zip(columns, counts) if n or c in ("resourcetype", "id", SOURCE_COLUMN)]


def _open(path: Path):
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")


def _raw_records(path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number, line) for every non-blank line: DuckDB's record ordinals count exactly these."""
    with _open(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            if line.strip():
                yield lineno, line.rstrip(b"\r\n")


def _diagnose(raw: bytes) -> tuple[str, dict | None]:
    """Why a raw NDJSON line is not a loadable resource ('' when it is), and the parsed object."""
    try:
        obj = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        return f"malformed-json: {exc}", None
    if not isinstance(obj, dict):
        return f"not-a-resource: a JSON {type(obj).__name__}, not an object", None
    rtype, rid = obj.get("resourceType"), obj.get("id")
    if not isinstance(rtype, str) or not rtype:
        return "missing-resourceType", obj
    if rtype not in R4_RESOURCE_TYPES:
        return f"unknown-resource-type: {rtype[:60]!r} is not a FHIR R4 resource type", obj
    if rid is None or rid == "":
        return "missing-id", obj
    if not isinstance(rid, str):
        return f"invalid-id: id is a JSON {type(rid).__name__}", obj
    return "", obj


def _excerpt(raw: bytes) -> str:
    return raw[:1024].decode("utf-8", errors="replace")


def _quarantine_ordinals(f: SourceFile, ordinals: set[int]) -> Iterator[Quarantined]:
    if not ordinals:
        return
    for ordinal, (lineno, raw) in enumerate(_raw_records(f.path), start=1):
        if ordinal in ordinals:
            reason, _ = _diagnose(raw)
            yield Quarantined(f.rel, f"line {lineno}", MODALITY, reason or "unreadable-record", _excerpt(raw))


def _ndjson_careful(f: SourceFile, spool: "_Spool") -> Iterator[Output]:
    read = loaded = quarantined = skipped = 0
    try:
        for lineno, raw in _raw_records(f.path):
            read += 1
            reason, obj = _diagnose(raw)
            if reason:
                quarantined += 1
                yield Quarantined(f.rel, f"line {lineno}", MODALITY, reason, _excerpt(raw))
            elif obj["resourceType"] in SKIPPED_TYPES:
                skipped += 1
                yield Skipped(f.rel, f"line {lineno}", f"not-clinical-data: {obj['resourceType']}")
            else:
                spool.write(obj, f.rel)
                loaded += 1
    except (OSError, EOFError) as exc:  # unreadable or truncated gzip: the rest of the file is lost
        quarantined += 1
        read += 1
        yield Quarantined(f.rel, f"after line {read - 1}", MODALITY, f"unreadable-file: {exc}")
    yield FileDone(f.rel, read=read, loaded=loaded, quarantined=quarantined, skipped=skipped)


def _bundle_file(f: SourceFile, spool: "_Spool") -> Iterator[Output]:
    try:
        with open(f.path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        yield Quarantined(f.rel, "file", MODALITY, f"unreadable-file: {exc}")
        yield FileDone(f.rel, read=1, loaded=0, quarantined=1, skipped=0)
        return
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        yield Quarantined(f.rel, "file", MODALITY, f"malformed-json: {exc}", _excerpt(raw))
        yield FileDone(f.rel, read=1, loaded=0, quarantined=1, skipped=0)
        return
    if not isinstance(doc, dict) or doc.get("resourceType") != "Bundle":
        # A single resource in a .json file.
        reason, obj = _diagnose(raw) if isinstance(doc, dict) else ("not-a-resource", None)
        if reason:
            yield Quarantined(f.rel, "file", MODALITY, reason, _excerpt(raw))
            yield FileDone(f.rel, read=1, loaded=0, quarantined=1, skipped=0)
        elif obj["resourceType"] in SKIPPED_TYPES:
            yield Skipped(f.rel, "file", f"not-clinical-data: {obj['resourceType']}")
            yield FileDone(f.rel, read=1, loaded=0, quarantined=0, skipped=1)
        else:
            spool.write(obj, f.rel)
            yield FileDone(f.rel, read=1, loaded=1, quarantined=0, skipped=0)
        return
    read = loaded = quarantined = skipped = 0
    for entry in bundles.entries(doc):
        read += 1
        if entry.problem:
            quarantined += 1
            yield Quarantined(f.rel, entry.position, MODALITY, entry.problem)
            continue
        res = entry.resource
        rtype, rid = res.get("resourceType"), res.get("id")
        reason = ""
        if not isinstance(rtype, str) or not rtype:
            reason = "missing-resourceType"
        elif rtype not in R4_RESOURCE_TYPES:
            reason = f"unknown-resource-type: {rtype[:60]!r} is not a FHIR R4 resource type"
        elif not isinstance(rid, str) or not rid:
            reason = "missing-id"
        if reason:
            quarantined += 1
            yield Quarantined(f.rel, entry.position, MODALITY, reason, _excerpt(json.dumps(res).encode()))
        elif rtype in SKIPPED_TYPES:
            skipped += 1
            yield Skipped(f.rel, entry.position, f"not-clinical-data: {rtype}")
        else:
            spool.write(res, f.rel)
            loaded += 1
    yield FileDone(f.rel, read=read, loaded=loaded, quarantined=quarantined, skipped=skipped)


class _Spool:
    """Per-resource-type NDJSON files of validated resources, each tagged with its source file."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.handles: dict[str, object] = {}

    def write(self, resource: dict, source: str) -> None:
        rtype = resource["resourceType"]
        fh = self.handles.get(rtype)
        if fh is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            fh = self.handles[rtype] = open(self.folder / f"{rtype}.ndjson", "w", encoding="utf-8")
        resource[SOURCE_COLUMN] = source
        fh.write(json.dumps(resource, separators=(",", ":"), ensure_ascii=False))
        fh.write("\n")

    def close(self) -> list[tuple[str, Path]]:
        out = []
        for rtype, fh in self.handles.items():
            fh.close()
            out.append((rtype, self.folder / f"{rtype}.ndjson"))
        self.handles = {}
        return out


def _copy_spool(conn, rtype: str, path: Path, ctx: ReadContext) -> Iterator[Output]:
    src = f"'{sql_str(str(path))}'"
    shapes = _infer(conn, src)
    # The source column was added by us; keep it last, as on the fast path.
    shapes = [s for s in shapes if s.source_name != SOURCE_COLUMN] + [s for s in shapes if s.source_name == SOURCE_COLUMN]
    part = ctx.part_path(DATABASE, rtype.lower())
    conn.execute(
        f"COPY (SELECT {select_list(shapes)} FROM read_json({src}, {_READ_OPTS}, "
        f"columns={read_columns_literal(shapes)})) TO '{sql_str(str(part))}' (FORMAT parquet, COMPRESSION zstd)"
    )
    counts = conn.execute(
        f"SELECT {SOURCE_COLUMN}, count(*) FROM read_parquet('{sql_str(str(part))}') GROUP BY 1"
    ).fetchall()
    yield ParquetPart(DATABASE, rtype.lower(), part, sum(n for _, n in counts), tuple(sorted(s for s, _ in counts)))
    path.unlink()
