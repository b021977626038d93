"""FHIR R4 reader: bulk-export NDJSON and Bundles into HealthLake-shaped Parquet, reshaped inside DuckDB.

Fast path (a well-formed NDJSON file of one resource type): DuckDB infers the union schema of every record in
the file, then one `COPY (SELECT CAST(...) ...) TO parquet` reads, reshapes (see `schema.py`) and writes.
Rows that came out without `resourceType`/`id` (malformed JSON becomes an all-NULL row under
`ignore_errors`) or files holding several resource types send the file down the careful path: the bad
records are located by ordinal, their raw lines read back for the quarantine excerpt, and the good rows are
split by type from the Parquet just written, so the source is still parsed only twice.

Bundles and files DuckDB cannot read at all go through Python (`_Spool`): each resource is validated,
references resolved, and written to a per-type NDJSON spool that then takes the fast path.

Every record has one fate, the same on every path (docs/ingest.md, "FHIR: what happens to each record"):
loaded; skipped (log lines, OperationOutcome); or quarantined with a reason - malformed JSON, not a resource,
no or unknown resourceType, a missing or non-string id (`invalid-id`), a top-level key named like a lineage
column (`reserved-key`), or nesting beyond `depth.MAX_DEPTH` (`too-deep`). A line DuckDB cannot parse but
Python can (a UTF-8 byte-order mark) is recovered through the spool, not quarantined. Copies of one id are all
kept; `lake_position` orders the copies inside one file for the dbt staging's current-version rule.
"""

from __future__ import annotations

import gzip
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from mmhealth.ingest.duck import connect, ident, sql_str
from mmhealth.ingest.fhir import bundle as bundles
from mmhealth.ingest.fhir.depth import MAX_DEPTH, nesting, too_deep, too_deep_reason
from mmhealth.ingest.fhir.resource_types import R4_RESOURCE_TYPES
from mmhealth.ingest.fhir.schema import (
    RESERVED_PREFIX,
    TYPED_DEPTH,
    lineage_shapes,
    read_columns_literal,
    select_list,
    shape_columns,
)
from mmhealth.ingest.fhir.verify import PartCheck, check_part, raw_key_count
from mmhealth.ingest.records import (
    LINEAGE_COLUMNS,
    POSITION_COLUMN,
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
# Records DuckDB infers the schema from before the copy; verify.py proves afterwards that they covered every
# key of the file, else the file is redone with the schema of every record. 0 = always every record.
SCHEMA_SAMPLE = 2_048
_READ_OPTS = f"format='newline_delimited', ignore_errors=true, maximum_object_size={MAX_OBJECT_BYTES}"
BOM = b"\xef\xbb\xbf"


def is_ndjson(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(".ndjson") or name.endswith(".ndjson.gz")


class FhirReader:
    name = MODALITY

    def discover(self, root: Path) -> Iterator[Path]:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for fn in sorted(filenames):
                path = Path(dirpath) / fn
                if is_ndjson(path):
                    yield path
                elif fn.lower().endswith(".json") and fn not in NON_FHIR_JSON:
                    # Every .json is claimed, FHIR or not: no other reader takes it, so a document that is no
                    # resource (a JSON schema, a tool's config) must end here as `not-fhir`, never unaccounted for.
                    yield path

    def read(self, files: list[SourceFile], ctx: ReadContext) -> Iterator[Output]:
        from concurrent.futures import ThreadPoolExecutor

        conn = connect(ctx.staging_dir, ctx.options.duckdb_memory)
        spool = _Spool(ctx.staging_dir / "fhir-spool")
        # A small pipeline keeps both cores busy: while file i is copied (DuckDB, multi-threaded), file i+1's
        # schema is inferred and its key counted (thread 1), and file i-1's Parquet keys are counted (thread 2).
        # Files finish one step late; the lake does not care about the order of outputs across files.
        bulk = [f for f in files if is_ndjson(f.path) and f.path.name.lower() not in LOG_FILE_NAMES]
        position = {f.rel: i for i, f in enumerate(bulk)}
        sample = ctx.options.fhir_schema_sample
        sample = SCHEMA_SAMPLE if sample is None else (int(sample) or None)  # 0: infer from every record
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
                    yield from _bundle_file(conn, f, spool)
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
        tmp = None
        try:
            result = inferred.result()
            if result.error is not None:
                raise result.error
            tmp = ctx.part_path(DATABASE, "_unsorted")
            state = _fast_copy(conn, f, tmp, result)
        except careful:
            # DuckDB could not read it (e.g. invalid UTF-8, or no record has resourceType/id), or a record is
            # too deep for DuckDB to infer from safely: Python decides, line by line, what is loadable.
            _discard(tmp)
            outputs = list(_ndjson_careful(f, spool))
            return lambda: iter(outputs)
        check = check_pool.submit(check_part, state.tmp) if state.raw_keys is not None else None

        def finish():
            try:
                outputs = list(_fast_finish(conn, f, ctx, spool, state, check))
            except careful:
                _discard(state.tmp)
                spool.forget(f.rel)
                outputs = list(_ndjson_careful(f, spool))
            return iter(outputs)

        return finish


def _discard(path: Path | None) -> None:
    if path is not None:
        path.unlink(missing_ok=True)


def _log_file(f: SourceFile) -> Iterator[Output]:
    n = sum(1 for _ in _raw_records(f.path))
    yield Skipped(f.rel, "file", "bulk-export-log", n)
    yield FileDone(f.rel, read=n, loaded=0, quarantined=0, skipped=n)


class _NeedsCarefulPath(Exception):
    pass


def _infer(conn, source_sql: str, sample: int | None = None):
    """Column shapes from every record (`sample=None`) or from the first `sample` records. Levels below
    TYPED_DEPTH come out as JSON. The caller makes sure no record it infers from nests beyond MAX_DEPTH: DuckDB's
    inference recurses through every level and overflows the stack on absurd depths."""
    rel = conn.sql(
        f"SELECT * FROM read_json({source_sql}, {_READ_OPTS}, sample_size={sample or -1}, "
        f"maximum_depth={TYPED_DEPTH}, map_inference_threshold=-1) LIMIT 0"
    )
    return shape_columns(rel.columns, rel.types)


def _deep_in_sample(path: Path, sample: int) -> bool:
    """Whether one of the first `sample` records (DuckDB's inference sample: the first non-blank lines, valid or
    not) nests beyond MAX_DEPTH."""
    for n, (_, raw) in enumerate(_raw_records(path)):
        if n >= sample:
            return False
        if too_deep(raw.removeprefix(BOM)):
            return True
    return False


def _deep_anywhere(conn, source_sql: str) -> bool:
    """Whether any record of the file nests beyond MAX_DEPTH: DuckDB counts brackets (an upper bound of the
    depth), and only records with more than MAX_DEPTH of them are measured exactly."""
    suspects = conn.execute(
        f"SELECT json FROM read_ndjson_objects({source_sql}, ignore_errors=true, "
        f"maximum_object_size={MAX_OBJECT_BYTES}) "
        f"WHERE strlen(json) - strlen(replace(replace(json, '{{', ''), '[', '')) > {MAX_DEPTH}"
    ).fetchall()
    return any(nesting(text.encode()) > MAX_DEPTH for (text,) in suspects)


def _infer_every_record(conn, source_sql: str):
    if _deep_anywhere(conn, source_sql):
        raise _NeedsCarefulPath
    return _infer(conn, source_sql)


@dataclass
class _Inferred:
    shapes: list | None
    raw_keys: int | None  # keys in the source bytes, for verify.py; None when shapes are from every record
    error: Exception | None = None


def _infer_file(conn, path: Path, sample: int | None) -> _Inferred:
    """Column shapes of an NDJSON file, on its own cursor so it can run in a thread while another file is
    copied. With `sample`, also the source's key count, to prove afterwards that the sample missed nothing."""
    import duckdb

    cur = conn.cursor()
    src = f"'{sql_str(str(path))}'"
    try:
        if sample:
            if _deep_in_sample(path, sample):
                return _Inferred(None, None, _NeedsCarefulPath())
            return _Inferred(_infer(cur, src, sample), raw_key_count(path))
        return _Inferred(_infer_every_record(cur, src), None)
    except (duckdb.Error, OSError, EOFError, _NeedsCarefulPath) as exc:
        return _Inferred(None, None, exc)
    finally:
        cur.close()


def _copy(conn, src: str, rel: str, shapes, out: Path, positions: bool = False) -> list[tuple]:
    """The one statement that reads, reshapes and writes; returns per resource type (type, rows, rows with a
    valid id, distinct ids). `positions` numbers the records (`lake_position`); it costs a quarter of the copy,
    so it is asked for only where two records of the file share an id, or bad records are being taken out."""
    names = {s.source_name for s in shapes}
    if "resourceType" not in names or "id" not in names:
        raise _NeedsCarefulPath
    position = "ordinality" if positions else "CAST(NULL AS BIGINT)"
    conn.execute(
        f"COPY (SELECT {select_list(shapes)}, '{sql_str(rel)}' AS {SOURCE_COLUMN}, {position} AS {POSITION_COLUMN} "
        f"FROM read_json({src}, {_READ_OPTS}, columns={read_columns_literal(shapes)})"
        f"{' WITH ORDINALITY' if positions else ''}) "
        f"TO '{sql_str(str(out))}' (FORMAT parquet, COMPRESSION zstd)"
    )
    return conn.execute(
        f"SELECT resourcetype, count(*), count(id), count(DISTINCT id) FROM read_parquet('{sql_str(str(out))}') "
        "GROUP BY 1"
    ).fetchall()


def _copy_file(conn, src: str, rel: str, shapes, out: Path, positions: bool = False) -> list[tuple]:
    """`_copy`, again with record numbers when the file turns out to need them: a bad record may come back
    through the spool (numbered), and copies of one id are ordered by them."""
    groups = _copy(conn, src, rel, shapes, out, positions)
    if not positions and (not _clean(groups) or any(n_id > n_distinct for _, _, n_id, n_distinct in groups)):
        groups = _copy(conn, src, rel, shapes, out, positions=True)
    return groups


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


def _fast_copy(conn, f: SourceFile, tmp: Path, inferred: _Inferred) -> _CopyState:
    src = f"'{sql_str(str(f.path))}'"
    if inferred.raw_keys is not None:
        try:
            groups = _copy_file(conn, src, f.rel, inferred.shapes, tmp)
        except _NeedsCarefulPath:
            groups = None
        if groups is not None and _clean(groups):
            return _CopyState(src, tmp, inferred.shapes, groups, inferred.raw_keys)
        # Bad lines, several types, or no resourceType in the sample: go exact before anything else.
        shapes = _infer_every_record(conn, src)
        return _CopyState(src, tmp, shapes, _copy_file(conn, src, f.rel, shapes, tmp, positions=True), None)
    return _CopyState(src, tmp, inferred.shapes, _copy_file(conn, src, f.rel, inferred.shapes, tmp), None)


def _verdict(check) -> PartCheck | None:
    try:
        return check.result()
    except Exception:  # an unreadable part proves nothing; the exact path decides
        return None


def _fast_finish(conn, f: SourceFile, ctx: ReadContext, spool: "_Spool", state: _CopyState, check) -> Iterator[Output]:
    src, tmp, shapes, groups = state.src, state.tmp, state.shapes, state.groups
    if check is not None:
        verdict = _verdict(check)
        if verdict is not None and verdict.json_openers + TYPED_DEPTH > MAX_DEPTH:
            # JSON text kept below the typed levels may hide a record deeper than the lake takes: measure
            # exactly (and quarantine it) before anything of this file is loaded.
            if _deep_anywhere(conn, src):
                raise _NeedsCarefulPath
        if verdict is None or verdict.keys != state.raw_keys:
            # The sampled schema missed something (or the proof failed): redo with the schema of every record.
            shapes = _infer_every_record(conn, src)
            groups = _copy_file(conn, src, f.rel, shapes, tmp)
    read = sum(n for _, n, _, _ in groups)
    if _clean(groups):
        rtype, n, _, _ = groups[0]
        final = ctx.part_path(DATABASE, rtype.lower())
        os.replace(tmp, final)
        yield ParquetPart(DATABASE, rtype.lower(), final, n, (f.rel,))
        yield FileDone(f.rel, read=n, loaded=n, quarantined=0, skipped=0)
        return
    # Careful path: some rows are bad, skipped, or of several types. A bad row is one whose `id` the copy
    # voided (see schema.py) or whose resourceType is missing or unknown; the same test, run on the source
    # with record numbers, says which lines those are.
    loaded = skipped = 0
    unknown = [rt for rt, _, _, _ in groups if rt is not None and rt not in R4_RESOURCE_TYPES]
    unknown_sql = ", ".join(f"'{sql_str(rt)}'" for rt in unknown) or "NULL"
    reserved = [s.source_name for s in shapes if s.reserved]
    columns = {"resourceType": "VARCHAR", "id": "JSON", **{name: "JSON" for name in reserved}}
    columns_sql = "{" + ", ".join(f"'{sql_str(k)}': '{v}'" for k, v in columns.items()) + "}"
    valid = " AND ".join(["json_type(id) = 'VARCHAR'", "(id->>'$') <> ''"] + [f"{ident(r)} IS NULL" for r in reserved])
    bad_ordinals = {
        r[0]
        for r in conn.execute(
            f"SELECT ordinality FROM read_json({src}, {_READ_OPTS}, columns={columns_sql}) WITH ORDINALITY "
            f"WHERE resourceType IS NULL OR resourceType IN ({unknown_sql}) OR NOT coalesce({valid}, false)"
        ).fetchall()
    }
    rechecked = list(_recheck(f, bad_ordinals, spool))
    yield from rechecked
    tmp_sql = f"read_parquet('{sql_str(str(tmp))}')"
    for rtype, n, n_id, _ in groups:
        if rtype is None or rtype in unknown:
            continue
        if rtype in SKIPPED_TYPES:
            if n_id:
                yield Skipped(f.rel, "records", f"not-clinical-data: {rtype}", n_id)
            skipped += n_id
            continue
        if not n_id:
            continue
        part = ctx.part_path(DATABASE, rtype.lower())
        stored = [s.lake_name for s in shapes if not s.reserved] + [SOURCE_COLUMN, POSITION_COLUMN]
        cols = _columns_present(conn, tmp_sql, rtype, stored)
        conn.execute(
            f"COPY (SELECT {', '.join(ident(c) for c in cols)} FROM {tmp_sql} "
            f"WHERE resourcetype = '{sql_str(rtype)}' AND id IS NOT NULL) "
            f"TO '{sql_str(str(part))}' (FORMAT parquet, COMPRESSION zstd)"
        )
        yield ParquetPart(DATABASE, rtype.lower(), part, n_id, (f.rel,))
        loaded += n_id
    tmp.unlink()
    quarantined = sum(1 for o in rechecked if isinstance(o, Quarantined))
    recovered_skips = sum(o.count for o in rechecked if isinstance(o, Skipped))
    recovered = len(bad_ordinals) - quarantined - recovered_skips
    yield FileDone(f.rel, read=read, loaded=loaded + recovered, quarantined=quarantined,
                   skipped=skipped + recovered_skips)


def _columns_present(conn, table_sql: str, rtype: str, columns: list[str]) -> list[str]:
    """Top-level columns with at least one value for `rtype` (a file mixing types must not give every table
    every other type's columns)."""
    counts = conn.execute(
        f"SELECT {', '.join(f'count({ident(c)})' for c in columns)} FROM {table_sql} "
        f"WHERE resourcetype = '{sql_str(rtype)}' AND id IS NOT NULL"
    ).fetchone()
    keep = {"resourcetype", "id"} | LINEAGE_COLUMNS
    return [c for c, n in zip(columns, counts) if n or c in keep]


def _open(path: Path):
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")


def _raw_records(path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number, line) for every non-blank line: DuckDB's record ordinals count exactly these."""
    with _open(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            if line.strip():
                yield lineno, line.rstrip(b"\r\n")


def _parse(raw: bytes) -> tuple[str, object]:
    """(why `raw` is not JSON, '' when it is; the parsed value). A leading byte-order mark is not content."""
    raw = raw.removeprefix(BOM)
    depth = too_deep(raw)
    if depth:
        return too_deep_reason(depth), None
    try:
        return "", json.loads(raw)
    except RecursionError:  # not reached under MAX_DEPTH; kept so a parser limit can never end a run
        return too_deep_reason(nesting(raw)), None
    except (ValueError, UnicodeDecodeError) as exc:
        return f"malformed-json: {exc}", None


def _problem(obj) -> str:
    """Why a parsed value is not a loadable resource ('' when it is)."""
    if not isinstance(obj, dict):
        return f"not-a-resource: a JSON {type(obj).__name__}, not an object"
    rtype, rid = obj.get("resourceType"), obj.get("id")
    if not isinstance(rtype, str) or not rtype:
        return "missing-resourceType"
    if rtype not in R4_RESOURCE_TYPES:
        return f"unknown-resource-type: {rtype[:60]!r} is not a FHIR R4 resource type"
    if rid is None or rid == "":
        return "missing-id"
    if not isinstance(rid, str):
        return f"invalid-id: id is a JSON {_json_kind(rid)} ({json.dumps(rid)[:40]}), not a string"
    reserved = [k for k, v in obj.items() if k.lower().startswith(RESERVED_PREFIX) and v is not None]
    if reserved:
        return (f"reserved-key: {reserved[0]!r} is the name of a lake lineage column; "
                "rename or remove that key in the source")
    return ""


def _json_kind(value) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {dict: "object", list: "array"}.get(type(value), type(value).__name__)


def _diagnose(raw: bytes) -> tuple[str, dict | None]:
    """Why a raw NDJSON line is not a loadable resource ('' when it is), and the parsed object."""
    reason, obj = _parse(raw)
    if reason:
        return reason, None
    reason = _problem(obj)
    return reason, (obj if isinstance(obj, dict) else None)


def _excerpt(raw: bytes) -> str:
    return raw[:1024].decode("utf-8", errors="replace")


def _recheck(f: SourceFile, ordinals: set[int], spool: "_Spool") -> Iterator[Output]:
    """The records DuckDB left without a valid resourceType/id, judged in Python: quarantined with the reason,
    or - when Python reads them fine (a byte-order mark DuckDB refuses) - loaded through the spool."""
    if not ordinals:
        return
    for ordinal, (lineno, raw) in enumerate(_raw_records(f.path), start=1):
        if ordinal not in ordinals:
            continue
        reason, obj = _diagnose(raw)
        if not reason and obj["resourceType"] in SKIPPED_TYPES:
            yield Skipped(f.rel, f"line {lineno}", f"not-clinical-data: {obj['resourceType']}")
            continue
        reason = reason or spool.write(obj, f.rel, ordinal)
        if reason:
            yield Quarantined(f.rel, f"line {lineno}", MODALITY, reason, _excerpt(raw))


def _ndjson_careful(f: SourceFile, spool: "_Spool") -> Iterator[Output]:
    read = loaded = quarantined = skipped = 0
    try:
        for lineno, raw in _raw_records(f.path):
            read += 1
            reason, obj = _diagnose(raw)
            if not reason and obj["resourceType"] in SKIPPED_TYPES:
                skipped += 1
                yield Skipped(f.rel, f"line {lineno}", f"not-clinical-data: {obj['resourceType']}")
                continue
            reason = reason or spool.write(obj, f.rel, read)
            if reason:
                quarantined += 1
                yield Quarantined(f.rel, f"line {lineno}", MODALITY, reason, _excerpt(raw))
            else:
                loaded += 1
    except (OSError, EOFError) as exc:  # unreadable or truncated gzip: the rest of the file is lost
        quarantined += 1
        read += 1
        yield Quarantined(f.rel, f"after line {read - 1}", MODALITY, f"unreadable-file: {exc}")
    yield FileDone(f.rel, read=read, loaded=loaded, quarantined=quarantined, skipped=skipped)


def _bundle_file(conn, f: SourceFile, spool: "_Spool") -> Iterator[Output]:
    try:
        with open(f.path, "rb") as fh:
            raw = fh.read().removeprefix(BOM)
    except OSError as exc:
        yield Quarantined(f.rel, "file", MODALITY, f"unreadable-file: {exc}")
        yield FileDone(f.rel, read=1, loaded=0, quarantined=1, skipped=0)
        return
    problems: dict[int, str] = {}
    try:
        doc = json.loads(raw)
    except RecursionError:
        # Something in it nests past Python's parser; split the entries with DuckDB and judge each alone.
        doc, problems = _bundle_by_entry(conn, f.path, len(raw))
        if doc is None:
            yield Quarantined(f.rel, "file", MODALITY, too_deep_reason(nesting(raw)), _excerpt(raw))
            yield FileDone(f.rel, read=1, loaded=0, quarantined=1, skipped=0)
            return
    except (ValueError, UnicodeDecodeError) as exc:
        yield Quarantined(f.rel, "file", MODALITY, f"malformed-json: {exc}", _excerpt(raw))
        yield FileDone(f.rel, read=1, loaded=0, quarantined=1, skipped=0)
        return
    if isinstance(doc, dict) and not any(k.lower() == "resourcetype" for k in doc):
        # JSON that only mentions resources (a SQL-on-FHIR test file, a config): not FHIR input at all.
        yield Skipped(f.rel, "file", "not-fhir: a JSON document without a top-level resourceType")
        yield FileDone(f.rel, read=1, loaded=0, quarantined=0, skipped=1)
        return
    if not isinstance(doc, dict) or doc.get("resourceType") != "Bundle":
        # A single resource in a .json file.
        reason = _problem(doc) or (too_deep_reason(nesting(raw)) if too_deep(raw) else "")
        if not reason and doc["resourceType"] in SKIPPED_TYPES:
            yield Skipped(f.rel, "file", f"not-clinical-data: {doc['resourceType']}")
            yield FileDone(f.rel, read=1, loaded=0, quarantined=0, skipped=1)
            return
        reason = reason or spool.write(doc, f.rel, 1)
        if reason:
            yield Quarantined(f.rel, "file", MODALITY, reason, _excerpt(raw))
            yield FileDone(f.rel, read=1, loaded=0, quarantined=1, skipped=0)
        else:
            yield FileDone(f.rel, read=1, loaded=1, quarantined=0, skipped=0)
        return
    read = loaded = quarantined = skipped = 0
    for index, entry in enumerate(bundles.entries(doc, problems)):
        read += 1
        if entry.problem:
            quarantined += 1
            yield Quarantined(f.rel, entry.position, MODALITY, entry.problem)
            continue
        res = entry.resource
        reason = _problem(res)
        if not reason and res["resourceType"] in SKIPPED_TYPES:
            skipped += 1
            yield Skipped(f.rel, entry.position, f"not-clinical-data: {res['resourceType']}")
            continue
        reason = reason or spool.write(res, f.rel, index + 1)
        if reason:
            quarantined += 1
            yield Quarantined(f.rel, entry.position, MODALITY, reason, _excerpt(json.dumps(res).encode()))
        else:
            loaded += 1
    yield FileDone(f.rel, read=read, loaded=loaded, quarantined=quarantined, skipped=skipped)


def _bundle_by_entry(conn, path: Path, size: int) -> tuple[dict | None, dict[int, str]]:
    """A Bundle Python's parser cannot take whole: DuckDB (which parses without recursion) hands out each entry
    as JSON text, and entries nested beyond MAX_DEPTH come back as problems instead of objects. None when the
    file is not a Bundle DuckDB can split."""
    import duckdb

    try:
        row = conn.execute(
            f"SELECT resourceType, entry FROM read_json('{sql_str(str(path))}', format='auto', "
            f"maximum_object_size={max(size + 1, MAX_OBJECT_BYTES)}, "
            "columns={'resourceType': 'VARCHAR', 'entry': 'JSON[]'})"
        ).fetchone()
    except duckdb.Error:
        return None, {}
    if row is None or row[0] != "Bundle" or not isinstance(row[1], list):
        return None, {}
    entries, problems = [], {}
    for i, text in enumerate(row[1]):
        raw = (text or "null").encode()
        # The entry object wraps the resource: one level more than the resource itself.
        depth = nesting(raw) - 1 if too_deep(raw) else 0
        if depth > MAX_DEPTH:
            entries.append(None)
            problems[i] = too_deep_reason(depth)
            continue
        entries.append(json.loads(raw))
    return {"resourceType": "Bundle", "entry": entries}, problems


class _Spool:
    """Per-resource-type NDJSON files of validated resources, each tagged with its source file and position."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.handles: dict[str, object] = {}
        self.marks: dict[str, dict[str, int]] = {}  # source -> {type: spool offset before its first record}

    def write(self, resource: dict, source: str, position: int) -> str:
        """Spool a validated resource; '' when done, else why it cannot be stored (it is then not written)."""
        # Keys named like lineage columns only reach the spool with a JSON null (others are quarantined).
        for key in [k for k in resource if k.lower().startswith(RESERVED_PREFIX)]:
            del resource[key]
        resource[SOURCE_COLUMN] = source
        resource[POSITION_COLUMN] = position
        try:
            line = json.dumps(resource, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"
        except UnicodeEncodeError as exc:  # JSON may escape a lone surrogate (\ud800); it is not Unicode text
            return f"invalid-unicode: a string holds {exc.object[exc.start:exc.end]!a}, which is not Unicode text"
        if len(line) > MAX_OBJECT_BYTES:
            return f"too-large: {len(line):,} bytes; the lake takes resources of at most {MAX_OBJECT_BYTES:,} bytes"
        rtype = resource["resourceType"]
        fh = self.handles.get(rtype)
        if fh is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            fh = self.handles[rtype] = open(self.folder / f"{rtype}.ndjson", "wb")
        self.marks.setdefault(source, {}).setdefault(rtype, fh.tell())
        fh.write(line)
        return ""

    def forget(self, source: str) -> None:
        """Take back what `source` wrote (its file is about to be read again from the start). A source's records
        are contiguous in each spool file, written by one pass that has just failed."""
        for rtype, offset in self.marks.pop(source, {}).items():
            fh = self.handles[rtype]
            fh.seek(offset)
            fh.truncate()

    def close(self) -> list[tuple[str, Path]]:
        out = []
        for rtype, fh in self.handles.items():
            fh.close()
            out.append((rtype, self.folder / f"{rtype}.ndjson"))
        self.handles = {}
        return out


def _copy_spool(conn, rtype: str, path: Path, ctx: ReadContext) -> Iterator[Output]:
    src = f"'{sql_str(str(path))}'"
    if path.stat().st_size == 0:
        path.unlink()
        return
    # Every record here passed `_problem` and MAX_DEPTH in Python: inference over all of them is safe. The
    # lineage keys were written by us: read them with the lake's types, last, as on the fast path.
    shapes = [s for s in _infer(conn, src) if s.source_name not in LINEAGE_COLUMNS] + lineage_shapes()
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
