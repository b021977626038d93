"""One ingest run: discover, skip what is unchanged, read the rest, commit atomically. See `mmhealth.lake`."""

from __future__ import annotations

import datetime as dt
import secrets
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

from mmhealth import failpoints
from mmhealth.errors import MMHealthError
from mmhealth.ingest.records import (
    SOURCE_COLUMN,
    FileDone,
    FileGroup,
    IngestOptions,
    Note,
    ParquetPart,
    Quarantined,
    ReadContext,
    Skipped,
    SourceFile,
    TableBatch,
    file_checksum,
)
from mmhealth.lake.catalog import DATABASES
from mmhealth.lake.compact import coalesce
from mmhealth.lake.lock import Owner
from mmhealth.lake.manifest import FileEntry, Manifest, Part
from mmhealth.lake.meta import (
    INGEST_LOG, INGEST_LOG_COLUMNS, QUARANTINE, QUARANTINE_COLUMNS, SKIPPED, SKIPPED_COLUMNS, arrow_schema,
)
from mmhealth.lake.modalities import DEFAULT_MODALITIES, READERS, load_reader
from mmhealth.lake.os_errors import errno_of, explain, is_full_disk, vanished
from mmhealth.lake.schema import merge_fields, schema_of_parquet
from mmhealth.lake.store import HeldLock, Store, open_store, remove_tree


@dataclass
class ModalityReport:
    files_seen: int = 0
    files_read: int = 0
    files_unchanged: int = 0
    files_reprocessed: int = 0  # unchanged files read again because --reprocess asked for them
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
    notes: list[str] = field(default_factory=list)  # what the user should know about this run, one line each

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
                    "files": {"seen": m.files_seen, "read": m.files_read, "unchanged": m.files_unchanged,
                              "reprocessed": m.files_reprocessed},
                    "rows_added": m.rows_added,
                    "seconds": round(m.seconds, 3),
                    "notes": m.notes,
                }
                for name, m in self.modalities.items()
            },
            "tables": self.tables,
            "notes": self.notes,
        }


@dataclass
class RunContext:
    """What every step of one locked run shares, instead of a long positional list through each of them."""

    store: Store
    lock: HeldLock  # `confirm()` right before each commit
    run_id: str
    source: Path  # the folder or file given as SOURCE
    root: Path  # the folder file identities are relative to: SOURCE, or the folder of a single file
    options: IngestOptions
    report: IngestReport
    progress: bool = True  # show a progress bar per modality
    committed: list[str] = field(default_factory=list)  # modalities committed: a later failure leaves them in
    # Parts the commits replaced: deleted only once the catalog no longer names them (after it is published).
    dropped: list[str] = field(default_factory=list)


@dataclass
class _ModalityRead:
    """One modality's read, staged and ready to commit."""

    modality: str
    collector: "_Collector"
    changed: list[SourceFile]  # files read because they are new, changed or asked for again
    touched: dict[str, FileEntry]  # unchanged files whose manifest entry gets a new mtime or origin
    seen: dict[str, tuple[int, int]]  # (size, mtime_ns) when discovered: what the manifest records
    started: dict[str, float]  # monotonic time each changed file's read began
    staging: Path
    report: ModalityReport


RUN_ID_TIME = "%Y%m%dT%H%M%SZ"
# How far the lake's latest run may be ahead of this host's clock before a run refuses (another host's clock).
CLOCK_AHEAD_S = 5


def new_run_id() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime(RUN_ID_TIME) + "-" + secrets.token_hex(3)


def _wait_to_follow(latest: str, run_id: str, lake: str) -> bool:
    """Whether `run_id` sorts after `latest`, the lake's newest committed run. dbt orders a file's versions and
    picks up new rows by lake_run (its incremental models read `lake_run > the newest they hold`), so every run
    must sort after the runs committed before it: a run in the same second as the last one, or one that waited for
    the lock while a run started after it committed, would sort before it and its rows would never be merged.
    When it does not, waits until this host's clock is past `latest` (the caller takes a new id and the lock
    again)."""
    if not latest or run_id > latest:
        return True
    now = dt.datetime.now(dt.timezone.utc)
    try:
        then = dt.datetime.strptime(latest.split("-", 1)[0], RUN_ID_TIME).replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return True  # not a run id this code wrote: nothing to order against
    ahead = (then - now).total_seconds()
    if ahead > CLOCK_AHEAD_S:
        raise MMHealthError(
            f"{lake}: its latest run {latest} is {ahead:.0f} s ahead of this host's clock - set the clock (NTP) and "
            f"run again, so this run's id sorts after it")
    time.sleep(max(ahead, 0) + 1 - now.microsecond / 1e6)
    return False


def _rel(root: Path, path: Path) -> str:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return path.resolve().as_posix()


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
        self.groups: dict[str, str] = {}  # unchanged file -> the group its reader found (FileGroup)
        self.batches: dict[str, list] = {}
        self.batch_rows: dict[str, int] = {}

    def add(self, out) -> None:
        if isinstance(out, ParquetPart):
            self.parts.append((f"{out.database}.{out.table}", Path(out.path), out.rows, list(out.sources)))
        elif isinstance(out, TableBatch):
            self._add_batch(out)
        elif isinstance(out, Quarantined):
            if is_full_disk(out.reason):  # the machine's fault, not the input's: never quarantine a file for it
                raise OSError(28, f"No space left on device (reading {out.source})", str(self.ctx.staging_dir))
            self.quarantine.append(out)
        elif isinstance(out, FileDone):
            self.done[out.source] = out
        elif isinstance(out, FileGroup):
            self.groups[out.source] = out.group
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


def run_ingest(
    source: Path,
    lake: str,
    modalities: list[str] | None = None,
    options: IngestOptions | Mapping | None = None,
    progress: bool = True,
) -> IngestReport:
    source = Path(source).resolve()
    if not source.exists():
        raise MMHealthError(f"{source}: source does not exist - give a folder (or file) of FHIR, VCF or DICOM data")
    options = IngestOptions.of(options)
    requested = list(modalities or DEFAULT_MODALITIES)
    for m in requested:
        if m not in READERS:
            raise MMHealthError(f"--modality {m}: unknown modality - choose from {', '.join(READERS)}")
    store = _open_store(lake, source)
    while True:
        run_id = new_run_id()
        report = IngestReport(run_id=run_id, lake=store.uri, modalities={}, tables={})
        committed: list[str] = []  # modalities this run committed: a later failure leaves them in the lake
        manifest = _ingest_locked(store, run_id, source, options, requested, explicit=bool(modalities), report=report,
                                  committed=committed, progress=progress)
        if manifest is not None:
            break
    report.tables = manifest.table_rows()
    note = _reference_note(manifest, run_id, options)
    if note:
        report.notes.append(note)
    return report


def _ingest_locked(store: Store, run_id: str, source: Path, options: IngestOptions, requested: list[str], *,
                   explicit: bool, report: IngestReport, committed: list[str], progress: bool) -> Manifest | None:
    """The run under the lake's lock; None when `run_id` would not sort after the lake's latest run (see
    `_wait_to_follow`): the lock is released and the caller starts again with a new id."""
    try:
        with store.lock(Owner.this_process(run_id)) as lock:
            failpoints.hit("locked")
            if not _wait_to_follow(max(store.read_manifest().runs, default=""), run_id, store.uri):
                return None
            run = RunContext(store=store, lock=lock, run_id=run_id, source=source,
                             root=source if source.is_dir() else source.parent, options=options, report=report,
                             progress=progress, committed=committed)
            try:
                manifest = _run_locked(run, requested, explicit=explicit)
            finally:
                remove_tree(store.staging_root / run_id)  # this run's own files only, and only while it holds the lock
    except MMHealthError:
        raise
    except Exception as exc:
        error = explain(exc, lake=store.uri, work=store.work, source=source, committed=committed)
        if error is None:
            raise
        raise error from exc
    return manifest


def _run_locked(run: RunContext, requested: list[str], *, explicit: bool) -> Manifest:
    """The run inside the lock. `explicit`: the modalities were asked for by name, so a missing reader is an
    error rather than a modality this build leaves out."""
    store, report, options = run.store, run.report, run.options
    manifest = store.read_manifest()
    spare = set()
    if run.lock.taken_over is not None:
        # The stale lock's run may only have stalled: keep its objects out of this run's garbage collection.
        spare.add(run.lock.taken_over.run_id)
        report.notes.append(f"took over the lake lock of {run.lock.taken_over.describe()}: its lease had run out")
    remove_tree(store.staging_root)  # parts of killed runs: no other run can be writing, this one holds the lock
    store.collect_garbage(manifest.keys(), DATABASES, spare)
    if not options.source_moved:
        _refuse_foreign_replacements(manifest, requested, run.source, run.root)
    try:
        for modality in requested:
            reader = load_reader(modality)
            if reader is None:
                if explicit:
                    raise MMHealthError(f"--modality {modality}: its reader is not installed in this build")
                continue
            mreport = report.modalities[modality] = ModalityReport()
            t0 = time.monotonic()
            manifest = _ingest_modality(run, manifest, reader, mreport)
            mreport.seconds = time.monotonic() - t0
            run.committed.append(modality)
            if mreport.files_reprocessed:
                report.notes.append(f"{modality}: {mreport.files_reprocessed} unchanged file(s) read again "
                                    f"(--reprocess {options.reprocess})")
    except BaseException:
        if run.committed:
            _publish_despite(run, manifest)
        raise
    # Once per run, after the last commit (every run, so a moved lake gets its catalog rebuilt): a catalog per
    # modality's commit cost one DuckDB rebuild or Glue sync of every table each time, for states nobody reads.
    # Until then the catalog shows the lake as it was before the run, whose parts are all still there.
    store.publish_catalog(manifest)
    store.delete(run.dropped)
    return manifest


def _publish_despite(run: RunContext, manifest: Manifest) -> None:
    """A later modality failed after earlier ones committed: their rows are in the lake, so the catalog must
    show them. The failure is what the run reports: if publishing fails too, the replaced parts stay (the old
    catalog still names them) and the next run publishes and collects them."""
    try:
        run.store.publish_catalog(manifest)
    except Exception:
        return
    run.store.delete(run.dropped)


def _open_store(lake: str, source: Path):
    try:
        return open_store(lake)
    except MMHealthError:
        raise
    except Exception as exc:
        error = explain(exc, lake=lake, work=None, source=source, committed=[])
        if error is None:
            raise
        raise error from exc


def _reference_note(manifest: Manifest, run_id: str, options: IngestOptions) -> str | None:
    """Say so when VCFs were loaded without their REF alleles checked: nothing checks them by default."""
    if options.reference:
        return None
    from mmhealth.ingest.genomics.vcf import is_vcf

    vcfs = [rel for rel, e in manifest.files.items() if e.run == run_id and is_vcf(Path(rel))]
    if not vcfs:
        return None
    return (f"genomics: REF alleles of {len(vcfs)} VCF file(s) were not checked - give --reference FASTA to check "
            f"them (a FASTA in SOURCE is only loaded into omics.reference_contigs); add --reprocess all to check "
            f"files already in the lake")


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


def _ingest_modality(run: RunContext, manifest: Manifest, reader, mreport: ModalityReport) -> Manifest:
    modality, root, run_id, options = reader.name, run.root, run.run_id, run.options
    changed: list[SourceFile] = []
    unchanged: list[SourceFile] = []
    touched: dict[str, FileEntry] = {}  # unchanged files whose manifest entry gets a new mtime or origin
    seen: dict[str, tuple[int, int]] = {}  # (size, mtime_ns) when discovered: what the manifest records
    again = _reprocess_filter(manifest, options.reprocess)
    reports_checksums = getattr(reader, "reports_checksums", False)
    for path in _discover(reader, run.source):
        rel = _rel(root, path)
        st = path.stat()
        seen[rel] = (st.st_size, st.st_mtime_ns)
        old = manifest.files.get(rel)
        if old and old.size == st.st_size and old.mtime_ns == st.st_mtime_ns:
            f = SourceFile(path, rel, st.st_size, old.checksum, old.group)
            if old.origin != str(root):  # seen under another folder (or before origins were recorded)
                touched[rel] = replace(old, origin=str(root))
        elif old is None and reports_checksums:  # new: the reader hashes it on its one read of the file
            changed.append(SourceFile(path, rel, st.st_size, None))
            continue
        else:
            f = SourceFile(path, rel, st.st_size, file_checksum(path))
            if not (old and old.checksum == f.checksum):
                changed.append(f)
                continue
            f = replace(f, group=old.group)
            touched[rel] = replace(old, mtime_ns=st.st_mtime_ns, origin=str(root))
        if again(rel):
            changed.append(f)
            mreport.files_reprocessed += 1
        else:
            unchanged.append(f)
    mreport.files_seen = len(changed) + len(unchanged)
    mreport.files_unchanged = len(unchanged)
    mreport.files_read = len(changed)
    staging = run.store.staging_root / run_id / modality
    staging.mkdir(parents=True, exist_ok=True)
    bar = None
    if run.progress and changed:
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
        failpoints.hit(f"read-{modality}")
    except (MMHealthError, KeyboardInterrupt):
        raise
    except Exception as exc:
        if errno_of(exc) is not None:
            raise  # the machine's refusal (disk full, permission denied, a file gone): run_ingest words it
        raise _reader_failed(modality, changed, collector.done, exc) from exc
    finally:
        if bar is not None:
            bar.close()
    _check_still_there(collector.done, {f.rel: f for f in changed + unchanged}, seen, modality)
    for done in collector.done.values():
        mreport.read += done.read
        mreport.loaded += done.loaded
        mreport.quarantined += done.quarantined
        mreport.skipped += done.skipped
    read = _ModalityRead(modality=modality, collector=collector, changed=changed, touched=touched, seen=seen,
                         started=started, staging=staging, report=mreport)
    return _commit(run, manifest, read)


def _reprocess_filter(manifest: Manifest, what: str | None):
    """Which unchanged files to read again: those with rows in the quarantine (e.g. after a new --reference, or
    a reader that learned to take what it refused), every file, or none."""
    if what == "all":
        return lambda rel: True
    if what == "quarantined":
        # A quarantine part lists the files its rows came from, so the manifest alone answers.
        with_rows = {src for part in manifest.tables.get(QUARANTINE, []) for src in part.sources}
        return with_rows.__contains__
    return lambda rel: False


def _reader_failed(modality: str, changed: list[SourceFile], done: dict, exc: Exception) -> MMHealthError:
    """A reader must quarantine bad input, never raise; when one does, name the file it was on, not a traceback."""
    gone = [f for f in changed if f.rel not in done and not f.path.exists()]
    if gone:
        return vanished(str(gone[0].path), modality)
    open_files = [f for f in changed if f.rel not in done]
    cause = f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:200]}"
    where = f"{open_files[0].path}" if open_files else f"{modality} input"
    more = f" (or one of the {len(open_files) - 1} file(s) after it)" if len(open_files) > 1 else ""
    return MMHealthError(
        f"{where}{more}: the {modality} reader failed on it ({cause}) - nothing of {modality} was committed; move "
        f"the file out of SOURCE to load the rest, and report the failure with the file"
    )


def _check_still_there(done: dict, files: dict[str, SourceFile], seen: dict[str, tuple[int, int]], modality: str):
    """Rows may only be committed for a file that stayed as it was while it was read: one that vanished or grew
    meanwhile may have been read in part, and its checksum would not describe what was loaded."""
    for rel in done:
        f = files.get(rel)
        if f is None:
            continue
        try:
            st = f.path.stat()
        except FileNotFoundError:
            raise vanished(str(f.path), modality) from None
        if (st.st_size, st.st_mtime_ns) != seen.get(rel):
            raise vanished(str(f.path), modality, how="changed")


def _commit(run: RunContext, manifest: Manifest, read: _ModalityRead) -> Manifest:
    store, run_id, origin = run.store, run.run_id, str(run.root)
    modality, collector, changed, staging = read.modality, read.collector, read.changed, read.staging
    started, touched, seen, mreport = read.started, read.touched, read.seen, read.report
    now = dt.datetime.now(dt.timezone.utc)
    # Files closed by a FileDone were read in this run: usually the changed ones, but a reader may also re-read
    # unchanged files it needs (e.g. the other slices of a series that gained one). Either way their rows from
    # earlier runs are replaced, never duplicated.
    known = {f.rel: f for f in collector.ctx.unchanged} | {f.rel: f for f in changed}
    new_files = {rel: known[rel] for rel in collector.done if rel in known}
    replaced = {rel for rel in new_files if rel in manifest.files}
    checksums = {rel: collector.done[rel].checksum or f.checksum for rel, f in new_files.items()}
    unhashed = sorted(rel for rel, c in checksums.items() if not c)
    if unhashed:  # a reader that reports checksums missed one: a bug, never a file's fault
        raise MMHealthError(f"{unhashed[0]}: the {modality} reader closed it without its checksum - nothing of "
                            f"{modality} was committed; report this with the file")
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
        {"run_id": run_id, "lake_source": rel, "modality": modality, "checksum": checksums[rel], "size_bytes": f.size,
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
    # A part that held a replaced file's rows is copied without them. The other files' rows in it were read by an
    # earlier run and did not change: the copy stays in that run's partition, so a row's lake_run is always the
    # run that read its file - what the current-version rules and the incremental models order and filter by.
    copies: list[tuple[str, Path, int, list[str], str]] = []
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
                if kept:
                    copies.append((table, out, kept, sorted(set(part.sources) - hit), part.run))
                dropped_keys.append(part.key)
            new_tables[table] = keep_parts
    schemas = {t: s for t, s in manifest.schemas.items()}
    footers = {local: schema_of_parquet(local) for _, local, _, _ in staged}
    staged_parts = coalesce([(t, local, rows, sources, footers[local][1]) for t, local, rows, sources in staged],
                            staging / "_coalesced")
    # (table, local file, rows, sources, schema fingerprint, run): this run's parts, then the copies, never
    # coalesced with them (a part lives in one run's partition).
    publish = [(*entry, run_id) for entry in staged_parts]
    for table, local, rows, sources, part_run in copies:
        footers[local] = schema_of_parquet(local)
        publish.append((table, local, rows, sources, footers[local][1], part_run))
    for table, local, rows, sources, fingerprint, part_run in publish:
        part_schema = footers[local][0] if local in footers else schema_of_parquet(local)[0]
        schemas[table] = merge_fields(schemas[table], part_schema) if table in schemas else part_schema
        key = _part_key(table, part_run, local)
        store.publish(local, key)
        new_tables.setdefault(table, []).append(Part(key=key, rows=rows, run=part_run, sources=sources, schema=fingerprint))
    files = dict(manifest.files)
    files.update(touched)
    grouped = {rel: replace(files[rel], group=g) for rel, g in collector.groups.items()
               if rel in files and rel not in new_files and files[rel].group != g}
    files.update(grouped)
    for rel, f in new_files.items():
        files[rel] = FileEntry(modality, checksums[rel], f.size, seen[rel][1], run_id, origin,
                               collector.done[rel].group)
    runs = manifest.runs + ([run_id] if staged and run_id not in manifest.runs else [])
    committed = Manifest(
        tables={t: ps for t, ps in new_tables.items() if ps}, files=files, runs=runs,
        schemas={t: s for t, s in schemas.items() if new_tables.get(t)},
    )
    if staged or touched or grouped or dropped_keys:
        failpoints.hit("commit")
        run.lock.confirm()  # S3: this run still holds the lake (it may have stalled past its lease)
        store.write_manifest(committed)  # the commit point; the catalog follows once per run (_run_locked)
        run.dropped.extend(dropped_keys)
    # The net change per table: rows a replaced file took with it count against the rows it brought back.
    before, after = manifest.table_rows(), committed.table_rows()
    mreport.rows_added = {t: n for t in sorted(set(before) | set(after)) if (n := after.get(t, 0) - before.get(t, 0))}
    return committed
