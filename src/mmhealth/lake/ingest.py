"""One ingest run: discover, skip what is unchanged, read the rest, commit atomically. See `mmhealth.lake`."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from mmhealth.errors import MMHealthError
from mmhealth.ingest.records import (
    SOURCE_COLUMN,
    FileDone,
    Note,
    ParquetPart,
    Quarantined,
    ReadContext,
    Skipped,
    SourceFile,
    TableBatch,
)
from mmhealth.lake.catalog import DATABASES, build_catalog
from mmhealth.lake.compact import coalesce
from mmhealth.lake.manifest import FileEntry, Manifest, Part
from mmhealth.lake.meta import (
    INGEST_LOG, INGEST_LOG_COLUMNS, QUARANTINE, QUARANTINE_COLUMNS, SKIPPED, SKIPPED_COLUMNS, arrow_schema,
)
from mmhealth.lake.modalities import DEFAULT_MODALITIES, READERS, load_reader
from mmhealth.lake.schema import merge_fields, schema_of_parquet
from mmhealth.lake.store import open_store, remove_tree


@dataclass
class ModalityReport:
    files_seen: int = 0
    files_read: int = 0
    files_unchanged: int = 0
    read: int = 0
    loaded: int = 0
    quarantined: int = 0
    skipped: int = 0
    rows_added: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)  # what the summary must name beyond counts (`records.Note`)


@dataclass
class IngestReport:
    run_id: str
    lake: str
    modalities: dict[str, ModalityReport]
    tables: dict[str, int]  # rows per table in the lake after the run

    @property
    def quarantined(self) -> int:
        return sum(m.quarantined for m in self.modalities.values())

    def to_dict(self) -> dict:
        return {
            "run_id": self.run_id,
            "lake": self.lake,
            "modalities": {
                name: {
                    "read": m.read,
                    "loaded": m.loaded,
                    "quarantined": m.quarantined,
                    "skipped": m.skipped,
                    "files": {"seen": m.files_seen, "read": m.files_read, "unchanged": m.files_unchanged},
                    "rows_added": m.rows_added,
                    "seconds": round(m.seconds, 3),
                    "notes": m.notes,
                }
                for name, m in self.modalities.items()
            },
            "tables": self.tables,
        }


def new_run_id() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def file_checksum(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def _rel(root: Path, path: Path) -> str:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return path.resolve().as_posix()


class _Lock:
    """One writer per lake. A lock left by a killed run (its pid is gone) is taken over."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                try:
                    pid = int(self.path.read_text().strip() or 0)
                except (OSError, ValueError):
                    pid = 0
                if pid and _alive(pid):
                    raise MMHealthError(
                        f"{self.path}: another ingest (pid {pid}) is writing this lake - wait for it to finish"
                    )
                self.path.unlink(missing_ok=True)
                continue
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
            return self
        raise MMHealthError(f"{self.path}: cannot take the lake lock - remove the file if no ingest is running")

    def __exit__(self, *exc):
        self.path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _Collector:
    """Consumes a reader's outputs for one modality and stages everything the commit needs."""

    def __init__(self, modality: str, ctx: ReadContext, report: ModalityReport):
        self.modality = modality
        self.ctx = ctx
        self.report = report
        self.parts: list[tuple[str, Path, int, list[str]]] = []  # (db.table, local path, rows, sources)
        self.quarantine: list[Quarantined] = []
        self.skipped: list[Skipped] = []
        self.done: dict[str, FileDone] = {}
        self.batches: dict[str, list] = {}
        self.batch_rows: dict[str, int] = {}

    def add(self, out) -> None:
        if isinstance(out, ParquetPart):
            self.parts.append((f"{out.database}.{out.table}", Path(out.path), out.rows, list(out.sources)))
        elif isinstance(out, TableBatch):
            self._add_batch(out)
        elif isinstance(out, Quarantined):
            self.quarantine.append(out)
        elif isinstance(out, FileDone):
            self.done[out.source] = out
        elif isinstance(out, Skipped):
            self.skipped.append(out)  # counted through FileDone, stored in lake_meta.skipped
        elif isinstance(out, Note):
            self.report.notes.append(f"{out.subject}: {out.message}")
        else:
            raise TypeError(f"reader {self.modality} yielded {type(out).__name__}, not a lake record")

    def _add_batch(self, b: TableBatch) -> None:
        import pyarrow as pa

        data = b.data if isinstance(b.data, pa.Table) else pa.Table.from_batches([b.data])
        if SOURCE_COLUMN not in data.column_names:
            data = data.append_column(SOURCE_COLUMN, pa.array([b.source] * data.num_rows, pa.string()))
        table = f"{b.database}.{b.table}"
        pending = self.batches.setdefault(table, [])
        if pending and not pending[0].schema.equals(data.schema):
            self._flush(table)
            pending = self.batches.setdefault(table, [])
        pending.append(data)
        self.batch_rows[table] = self.batch_rows.get(table, 0) + data.num_rows
        if self.batch_rows[table] >= 200_000:
            self._flush(table)

    def _flush(self, table: str) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pending = self.batches.pop(table, [])
        self.batch_rows.pop(table, None)
        if not pending:
            return
        data = pa.concat_tables(pending)
        db, name = table.split(".", 1)
        path = self.ctx.part_path(db, name)
        pq.write_table(data, path, compression="zstd")
        sources = sorted(set(data.column(SOURCE_COLUMN).to_pylist()))
        self.parts.append((table, path, data.num_rows, sources))

    def finish(self) -> None:
        for table in list(self.batches):
            self._flush(table)


def _write_meta(path: Path, columns: dict[str, str], rows: list[dict]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = arrow_schema(columns)
    data = pa.Table.from_pylist(rows, schema=schema)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(data, path, compression="zstd")


def _rewrite_without(store, key: str, drop: set[str], out: Path, scratch: Path) -> int:
    """Copy a committed part without the rows of `drop` sources; returns rows kept (0: nothing written)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    local = store.fetch(key, scratch)
    table = pq.read_table(local)
    keep = pc.invert(pc.is_in(table.column(SOURCE_COLUMN), value_set=__import__("pyarrow").array(sorted(drop))))
    kept = table.filter(keep)
    if kept.num_rows:
        pq.write_table(kept, out, compression="zstd")
    return kept.num_rows


def _part_key(table: str, run_id: str, local: Path) -> str:
    db, name = table.split(".", 1)
    return f"{db}/{name}/lake_run={run_id}/{local.name}"


def _publish_catalog(store, manifest: Manifest, glue_prefix: str = "") -> None:
    """Make committed state visible to query engines: lake.duckdb locally, Glue tables on S3."""
    if store.kind == "local":
        build_catalog(store.root, manifest)
    else:
        from mmhealth.lake.glue import sync_glue

        sync_glue(store, manifest, glue_prefix or os.environ.get("MMHEALTH_GLUE_DATABASE_PREFIX", ""))


def _pause_for_tests(point: str) -> None:
    """Crash-safety tests need a run stopped at a known point: with MMHEALTH_TEST_PAUSE_AT=<point>, the run
    writes `<point>` to MMHEALTH_TEST_PAUSE_FILE and sleeps there until the test kills it with SIGKILL."""
    if os.environ.get("MMHEALTH_TEST_PAUSE_AT") != point:
        return
    marker = os.environ.get("MMHEALTH_TEST_PAUSE_FILE")
    if marker:
        Path(marker).write_text(point)
    time.sleep(3600)


def run_ingest(
    source: Path,
    lake: str,
    modalities: list[str] | None = None,
    options: dict | None = None,
    progress: bool = True,
) -> IngestReport:
    source = Path(source).resolve()
    if not source.exists():
        raise MMHealthError(f"{source}: source does not exist - give a folder (or file) of FHIR, VCF or DICOM data")
    options = dict(options or {})
    requested = list(modalities or DEFAULT_MODALITIES)
    for m in requested:
        if m not in READERS:
            raise MMHealthError(f"--modality {m}: unknown modality - choose from {', '.join(READERS)}")
    store = open_store(lake)
    run_id = new_run_id()
    report = IngestReport(run_id=run_id, lake=store.uri, modalities={}, tables={})
    with _Lock(store.work / "_lake" / "lock" if store.kind == "s3" else store.work / "lock"):
        manifest = store.read_manifest()
        staging_root = store.work / "staging" if store.kind == "s3" else store.work / "staging"
        remove_tree(staging_root)  # parts of killed runs
        store.collect_garbage(manifest.keys(), DATABASES)
        root = source if source.is_dir() else source.parent
        if not options.get("source_moved"):
            _refuse_foreign_replacements(manifest, requested, source, root)
        for modality in requested:
            reader = load_reader(modality)
            if reader is None:
                if modalities:
                    raise MMHealthError(f"--modality {modality}: its reader is not installed in this build")
                continue
            mreport = report.modalities[modality] = ModalityReport()
            t0 = time.monotonic()
            manifest = _ingest_modality(store, manifest, reader, source, root, run_id, options, mreport, progress)
            mreport.seconds = time.monotonic() - t0
        _publish_catalog(store, manifest, options.get("glue_database_prefix", ""))
        remove_tree(staging_root)
    report.tables = manifest.table_rows()
    return report


def _discover(reader, source: Path):
    if source.is_file():
        # A single file given as SOURCE: the reader claims it if it would have found it in its folder.
        return [p for p in reader.discover(source.parent) if p.resolve() == source]
    return list(reader.discover(source))


def _refuse_foreign_replacements(manifest: Manifest, modalities: list[str], source: Path, root: Path) -> None:
    """Stop before reading anything when files of SOURCE would replace rows that came from another folder.

    A file's identity is its path inside SOURCE. Ingesting a second export folder on its own (`day-2/` after
    `day-1/`, both holding fhir/Patient.ndjson) would otherwise replace the first export's rows with the second's:
    data lost without a word. The same folder moved or mounted elsewhere is legitimate (--source-moved)."""
    here = str(root)
    if not any(e.origin and e.origin != here for e in manifest.files.values()):
        return  # the common case: every file was last seen under this same folder; nothing to walk twice
    clashes = []
    for modality in modalities:
        reader = load_reader(modality)
        for path in _discover(reader, source) if reader is not None else []:
            rel = _rel(root, path)
            old = manifest.files.get(rel)
            if old is None or not old.origin or old.origin == here:
                continue
            st = path.stat()
            if (old.size, old.mtime_ns) == (st.st_size, st.st_mtime_ns) or file_checksum(path) == old.checksum:
                continue  # the same content: nothing would be replaced
            clashes.append((rel, old))
    if clashes:
        shown = "; ".join(f"{rel} (read from {old.origin}, run {old.run})" for rel, old in clashes[:5])
        more = f" and {len(clashes) - 5} more" if len(clashes) > 5 else ""
        first_origin = clashes[0][1].origin
        raise MMHealthError(
            f"{root}: {len(clashes)} file(s) have the path of a file the lake read from another folder, and would "
            f"replace its rows: {shown}{more}. A file's identity in the lake is its path inside SOURCE. If {root} "
            f"is that folder moved or mounted elsewhere, run again with --source-moved. If it is another export, "
            f"give its files paths of their own inside the folder the lake was built from (for example copy it to "
            f"{first_origin}/<export name>/ and ingest {first_origin}); nothing was read."
        )


def _ingest_modality(store, manifest, reader, source, root, run_id, options, mreport, progress) -> Manifest:
    modality = reader.name
    changed: list[SourceFile] = []
    unchanged: list[SourceFile] = []
    touched: dict[str, FileEntry] = {}  # unchanged files whose manifest entry gets a new mtime or origin
    for path in _discover(reader, source):
        rel = _rel(root, path)
        st = path.stat()
        old = manifest.files.get(rel)
        if old and old.size == st.st_size and old.mtime_ns == st.st_mtime_ns:
            unchanged.append(SourceFile(path, rel, st.st_size, old.checksum))
            if old.origin != str(root):  # seen under another folder (or before origins were recorded)
                touched[rel] = replace(old, origin=str(root))
            continue
        checksum = file_checksum(path)
        if old and old.checksum == checksum:
            unchanged.append(SourceFile(path, rel, st.st_size, checksum))
            touched[rel] = replace(old, mtime_ns=st.st_mtime_ns, origin=str(root))
            continue
        changed.append(SourceFile(path, rel, st.st_size, checksum))
    mreport.files_seen = len(changed) + len(unchanged)
    mreport.files_unchanged = len(unchanged)
    mreport.files_read = len(changed)
    staging = store.work / "staging" / run_id / modality
    staging.mkdir(parents=True, exist_ok=True)
    bar = None
    if progress and changed:
        from tqdm import tqdm

        bar = tqdm(total=sum(f.size for f in changed), unit="B", unit_scale=True, desc=f"ingest {modality}",
                   file=sys.stderr, leave=False)
    ctx = ReadContext(run_id=run_id, staging_dir=staging, options=options, unchanged=unchanged, progress=bar)
    collector = _Collector(modality, ctx, mreport)
    started = {f.rel: time.monotonic() for f in changed}
    try:
        for out in reader.read(changed, ctx):
            collector.add(out)
        collector.finish()
        _pause_for_tests(f"read-{modality}")
    finally:
        if bar is not None:
            bar.close()
    for done in collector.done.values():
        mreport.read += done.read
        mreport.loaded += done.loaded
        mreport.quarantined += done.quarantined
        mreport.skipped += done.skipped
    return _commit(store, manifest, collector, changed, run_id, modality, staging, started, touched, mreport,
                   str(root))


def _commit(store, manifest, collector, changed, run_id, modality, staging, started, touched, mreport, origin):
    now = dt.datetime.now(dt.timezone.utc)
    # Files closed by a FileDone were read in this run: usually the changed ones, but a reader may also re-read
    # unchanged files it needs (e.g. the other slices of a series that gained one). Either way their rows from
    # earlier runs are replaced, never duplicated.
    known = {f.rel: f for f in collector.ctx.unchanged} | {f.rel: f for f in changed}
    new_files = {rel: known[rel] for rel in collector.done if rel in known}
    replaced = {rel for rel in new_files if rel in manifest.files}
    # Rows only count once their file is closed by a FileDone: a part naming an unfinished file would be
    # committed without the file being logged, and the rerun that reads the file again would duplicate it.
    staged: list[tuple[str, Path, int, list[str]]] = []
    for table, local, rows, sources in collector.parts:
        if all(src in collector.done for src in sources):
            staged.append((table, local, rows, sources))
        else:
            local.unlink(missing_ok=True)
    # Quarantine, skipped and ingest-log rows of this modality's run.
    q_rows = [
        {"run_id": run_id, "lake_source": q.source, "position": q.position, "modality": q.modality,
         "reason": q.reason, "raw_excerpt": q.raw, "quarantined_at": now}
        for q in collector.quarantine
        if q.source in collector.done
    ]
    if q_rows:
        p = staging / "lake_meta" / "quarantine" / f"part-{run_id}-{modality}.parquet"
        _write_meta(p, QUARANTINE_COLUMNS, q_rows)
        staged.append((QUARANTINE, p, len(q_rows), sorted({r["lake_source"] for r in q_rows})))
    s_rows = [
        {"run_id": run_id, "lake_source": s.source, "position": s.position, "modality": modality,
         "reason": s.reason, "record_count": s.count, "skipped_at": now}
        for s in collector.skipped
        if s.source in collector.done
    ]
    if s_rows:
        p = staging / "lake_meta" / "skipped" / f"part-{run_id}-{modality}.parquet"
        _write_meta(p, SKIPPED_COLUMNS, s_rows)
        staged.append((SKIPPED, p, len(s_rows), sorted({r["lake_source"] for r in s_rows})))
    log_rows = [
        {"run_id": run_id, "lake_source": rel, "modality": modality, "checksum": f.checksum, "size_bytes": f.size,
         "records_read": collector.done[rel].read, "records_loaded": collector.done[rel].loaded,
         "records_quarantined": collector.done[rel].quarantined, "records_skipped": collector.done[rel].skipped,
         "duration_s": round(time.monotonic() - started.get(rel, time.monotonic()), 3), "ingested_at": now}
        for rel, f in sorted(new_files.items())
    ]
    if log_rows:
        p = staging / "lake_meta" / "ingest_log" / f"part-{run_id}-{modality}.parquet"
        _write_meta(p, INGEST_LOG_COLUMNS, log_rows)
        # The log is history: its rows are never replaced, so it names no sources for replacement.
        staged.append((INGEST_LOG, p, len(log_rows), []))
    # Rows of changed files leave every table they were in (the ingest log excepted).
    dropped_keys: list[str] = []
    new_tables: dict[str, list[Part]] = {t: list(ps) for t, ps in manifest.tables.items()}
    if replaced:
        scratch = staging / "_fetched"
        for table, parts in manifest.tables.items():
            keep_parts = []
            for part in parts:
                hit = replaced.intersection(part.sources)
                if not hit:
                    keep_parts.append(part)
                    continue
                db, name = table.split(".", 1)
                out = staging / "_rewritten" / db / name / f"part-{run_id}-rw{len(dropped_keys):05d}.parquet"
                out.parent.mkdir(parents=True, exist_ok=True)
                kept = _rewrite_without(store, part.key, hit, out, scratch)
                mreport.rows_added[table] = mreport.rows_added.get(table, 0) - (part.rows - kept)
                if kept:
                    staged.append((table, out, kept, sorted(set(part.sources) - hit)))
                dropped_keys.append(part.key)
            new_tables[table] = keep_parts
    schemas = {t: s for t, s in manifest.schemas.items()}
    read = {local: schema_of_parquet(local) for _, local, _, _ in staged}
    staged_parts = coalesce([(t, local, rows, sources, read[local][1]) for t, local, rows, sources in staged],
                            staging / "_coalesced")
    for table, local, rows, sources, fingerprint in staged_parts:
        part_schema = read[local][0] if local in read else schema_of_parquet(local)[0]
        schemas[table] = merge_fields(schemas[table], part_schema) if table in schemas else part_schema
        key = _part_key(table, run_id, local)
        store.publish(local, key)
        new_tables.setdefault(table, []).append(Part(key=key, rows=rows, run=run_id, sources=sources, schema=fingerprint))
        mreport.rows_added[table] = mreport.rows_added.get(table, 0) + rows
    files = dict(manifest.files)
    files.update(touched)
    for rel, f in new_files.items():
        files[rel] = FileEntry(modality, f.checksum, f.size, f.path.stat().st_mtime_ns, run_id, origin)
    runs = manifest.runs + ([run_id] if staged and run_id not in manifest.runs else [])
    committed = Manifest(
        tables={t: ps for t, ps in new_tables.items() if ps}, files=files, runs=runs,
        schemas={t: s for t, s in schemas.items() if new_tables.get(t)},
    )
    if staged or touched or dropped_keys:
        _pause_for_tests("commit")
        store.write_manifest(committed)  # the commit point
        _publish_catalog(store, committed)
        store.delete(dropped_keys)
    mreport.rows_added = {t: n for t, n in sorted(mreport.rows_added.items()) if n}
    return committed
