"""`--modality imaging`: DICOM files in, `imaging.*` tables, quarantine records and per-file counts out.

The run, in order:
1. headers of every new or changed file (`header.read_header`; in chunks across the worker pool for large
   runs): skipped (not DICOM, another image format, DICOMDIR), quarantined (unreadable, truncated, pixel data
   short, missing UIDs) or loaded (a missing PatientID included: linked to no patient);
2. a study touched by a changed file is rebuilt whole: headers of its unchanged files are read again so study,
   series and image set rows (and radiomics) describe all of it, and those files are re-emitted;
3. copies of one SOPInstanceUID are decoded first, then one is kept (`series.choose_copies`: a copy that does
   not decode is quarantined, the best decodable copy loads, the others are skipped);
4. every series loads its files' metadata; a series whose files cannot form one volume (a file of it
   quarantined, a file without pixels, inconsistent geometry: `series.radiomics_refusal`) gets no volume, and
   its `radiomics_status` names that cause. Its pixels are still decoded;
5. per image set, in a process pool: volume, segmentation (with the default segmenter's fallback), radiomics;
   files whose pixels do not decode are quarantined and their image set gets no radiomics row;
6. the five tables written as Parquet parts (one per table), a `Note` per image set without features, then
   one `FileDone` per file.
Every file ends in exactly one of loaded / quarantined / skipped, so read = loaded + quarantined + skipped.
"""

from __future__ import annotations

import gc
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from mmhealth.ingest.imaging import tables
from mmhealth.ingest.imaging.header import DicomHeader, NotLoaded, Rejection, read_header
from mmhealth.ingest.imaging.header import discover as discover_dicom
from mmhealth.ingest.imaging.radiomics import (
    ImageSetTask, decode_failures, make_pool, run_image_sets,
)
from mmhealth.ingest.imaging.series import choose_copies, group_series, image_set_id, instance_key, radiomics_refusal
from mmhealth.ingest.imaging.volume import SliceSource
from mmhealth.ingest.readahead import readahead
from mmhealth.ingest.records import (
    FileDone, FileGroup, Note, Output, ParquetPart, Quarantined, ReadContext, Skipped, SourceFile, file_checksum,
)
from mmhealth.ingest.workers import default_workers

MODALITY = "imaging"


class ImagingReader:
    """`--modality imaging`: the lake's entry point (see `mmhealth.lake`), beside the run it drives."""

    name = MODALITY
    reports_checksums = True  # new files are hashed in the header pass (read_headers), not read again for it

    def discover(self, root: Path) -> Iterator[Path]:
        return discover_dicom(root)

    def read(self, files: list[SourceFile], ctx: ReadContext) -> Iterator[Output]:
        return read_imaging(files, ctx)


def read_imaging(files: list[SourceFile], ctx: ReadContext) -> Iterator[Output]:
    """The imaging reader's `read` (see `mmhealth.ingest.records.ModalityReader`)."""
    from mmhealth.ingest.imaging.segment import resolve

    if not files:
        return
    options = ctx.options
    segmenter = options.segmenter
    resolve(segmenter)  # an unknown --segmenter is a user error: fail before reading anything

    workers = max(1, options.workers or default_workers())
    pool = make_pool(workers) if workers > 1 else None
    try:
        checksums: dict[str, str] = {}
        outcomes = read_headers(files, pool, ctx.progress, checksums)
        changed_studies = {o.study_uid for o in outcomes.values() if isinstance(o, DicomHeader)}
        # A study is read whole: unchanged files of a study that gained or changed a file are read again. The
        # manifest knows each file's study from its last run (FileDone.group), so only those files and the ones
        # it has no study for (lakes written before studies were kept) are opened - not every file in the lake.
        again = [f for f in ctx.unchanged if f.group is None or f.group in changed_studies]
        if changed_studies and again:
            for source, o in read_headers(again, pool, None).items():
                if isinstance(o, DicomHeader) and o.study_uid in changed_studies:
                    outcomes[source] = o
                else:  # opened only to learn its study: the manifest keeps it for the next run
                    yield FileGroup(source, o.study_uid if isinstance(o, DicomHeader) else "")
        yield from run_outcomes(outcomes, ctx, segmenter=segmenter, workers=workers,
                                radiomics=options.radiomics, pool=pool, checksums=checksums,
                                # the lake passes a progress bar only when it shows one; ours follows suit
                                progress=ctx.progress is not None if options.progress is None else options.progress)
    finally:
        if pool is not None:
            pool.shutdown()


HEADER_CHUNK = 256  # files per task when headers are read in the pool: big enough to amortise pickling
CHUNKS_AHEAD = 4  # chunks whose reads are queued before a worker takes them (about 32 MB of DICOM at 100,000)


def read_headers(files: list[SourceFile], pool: Any, progress: Any,
                 checksums: dict[str, str] | None = None) -> dict[str, Any]:
    """Header outcome per source, read in `pool` (chunks of files) when there is one and enough files. A file
    given without a checksum (new to the lake) is hashed just before its header is read, while its bytes are in
    the page cache, and the checksum goes into `checksums`."""
    items = [(f.path if isinstance(f.path, Path) else Path(f.path), f.rel, f.checksum is None) for f in files]
    sizes = {f.rel: f.size for f in files}
    found: list[tuple[str, Any, str | None]] = []
    if pool is None or len(items) < 2 * HEADER_CHUNK:
        with _young_gc_only() as tick:
            for path, rel, hash_it in items:
                found.append(_read_one(path, rel, hash_it))
                tick()
                if progress is not None:
                    progress.update(sizes[rel])
    else:
        chunks = [items[i:i + HEADER_CHUNK] for i in range(0, len(items), HEADER_CHUNK)]
        # Each worker announces its own chunk's reads as it starts it; the chunks after those are announced from
        # here, so the disk already works on them while the workers parse (a source larger than the page cache).
        for chunk in chunks[:CHUNKS_AHEAD]:
            readahead(path for path, _, _ in chunk)
        for k, chunk_result in enumerate(pool.map(_read_chunk, chunks)):  # map keeps the input order
            if k + CHUNKS_AHEAD < len(chunks):
                readahead(path for path, _, _ in chunks[k + CHUNKS_AHEAD])
            for entry in chunk_result:
                found.append(entry)
                if progress is not None:
                    progress.update(sizes[entry[0]])
    out = {}
    for rel, outcome, checksum in found:
        out[rel] = outcome
        if checksum is not None and checksums is not None:
            checksums[rel] = checksum
    return out


def _read_one(path: Path, rel: str, hash_it: bool) -> tuple[str, Any, str | None]:
    # A file that cannot be read raises here as it did when the lake hashed it first: the machine's refusal (gone,
    # permission denied), which the lake words, not the file's content, which read_header would quarantine.
    checksum = file_checksum(path) if hash_it else None
    return rel, read_header(path, rel), checksum


def _read_chunk(items: list[tuple[Path, str, bool]]) -> list[tuple[str, Any, str | None]]:
    readahead(path for path, _, _ in items)  # the chunk's reads queued at once (a source larger than the page cache)
    with _young_gc_only() as tick:
        out = []
        for item in items:
            out.append(_read_one(*item))
            tick()
        return out


@contextmanager
def _young_gc_only(every: int = 512):
    """Collect only the youngest generation while headers pile up.

    Every header kept adds objects the full collections walk again and again (a quarter of metadata ingest's
    time on 9,000 files); the headers hold no garbage cycles worth finding. Young garbage (pydicom's
    temporary datasets) is still collected every `every` files, and normal collection resumes afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    count = 0

    def tick() -> None:
        nonlocal count
        count += 1
        if count % every == 0:
            gc.collect(0)

    try:
        yield tick
    finally:
        if was_enabled:
            gc.enable()


def run_outcomes(outcomes: dict[str, Any], ctx: ReadContext, *, segmenter: str | None = None,
                 workers: int | None = None, radiomics: bool = True, progress: bool = True,
                 pool: Any = None, checksums: dict[str, str] | None = None) -> Iterator[Output]:
    """Steps 3-6 for header outcomes keyed by source; `checksums` (source -> checksum, from `read_headers`) go
    into the files' FileDone."""
    checksums = checksums or {}
    final: dict[str, str] = {}  # source -> loaded | quarantined | skipped

    def skip(n: NotLoaded) -> Skipped:
        final[n.source] = "skipped"
        return Skipped(n.source, "file", n.reason)

    for o in outcomes.values():
        if isinstance(o, NotLoaded):
            yield skip(o)
    headers = [o for o in outcomes.values() if isinstance(o, DicomHeader)]
    headers, duplicates, bad_copies = choose_copies(headers, _copy_decode_problems(headers, pool))
    for d in duplicates:
        yield skip(d)

    # Quarantined files that belong to a series (their header named it) and whose instance no other copy
    # loaded, and those whose series is unknown, by folder: a series that cannot be built names them.
    loaded_copy = {(h.series_uid, h.sop_uid): h.source for h in headers}
    missing: dict[str, list[tuple[str, str]]] = {}
    unplaced: dict[str, list[tuple[str, str]]] = {}
    rejected = [(o, True) for o in outcomes.values() if isinstance(o, Rejection)]
    for r, by_header in rejected + [(r, False) for r in bad_copies]:
        reason = r.reason
        copy = loaded_copy.get((r.series_uid, r.sop_uid))
        if copy and by_header:  # copies that did not decode already name the copy that loaded
            reason = f"{reason} (a copy of this SOPInstanceUID loaded from {copy})"
        if r.series_uid and not copy:
            missing.setdefault(r.series_uid, []).append((r.source, reason))
        elif not r.series_uid:
            unplaced.setdefault(_folder(r.source), []).append((r.source, reason))
        final[r.source] = "quarantined"
        yield Quarantined(r.source, "file", MODALITY, reason, r.raw)

    series = group_series(headers)
    status: dict[str, str] = {}
    refused: dict[str, str] = {}
    tasks = []
    for (study, uid), members in series.items():
        isid = image_set_id(study, uid)
        sources = tuple(_slice_source(h) for h in members)
        nearby = [q for folder in sorted({_folder(h.source) for h in members}) for q in unplaced.get(folder, [])]
        refusal = radiomics_refusal(members, missing.get(uid, []), nearby)
        if not any(h.has_pixels for h in members):
            status[isid] = "no-pixels: no instance carries Pixel Data (e.g. SR, RT, waveform objects)"
        elif not radiomics:  # no pixel work at all (metadata-only runs)
            status[isid] = refusal or "not-computed: radiomics turned off for this run"
        elif refusal:
            refused[isid] = status[isid] = refusal
            tasks.append(ImageSetTask(isid, None, sources, decode_only=True))
        else:
            tasks.append(ImageSetTask(isid, members[0].attributes.get("modality"), sources, segmenter))
    results = []
    undecodable: dict[str, str] = {}
    for res in run_image_sets(tasks, workers=workers, progress=progress, pool=pool):
        undecodable.update(dict(res.undecodable))
        if res.imagesetid in refused:
            if res.undecodable:  # the refusal stands; the files that do not decode are quarantined too
                status[res.imagesetid] = f"{refused[res.imagesetid]}; and {len(res.undecodable)} file(s) do not decode"
            continue
        status[res.imagesetid] = res.status
        results.append(res)
    for key in list(series):
        bad = [h for h in series[key] if h.source in undecodable]
        for h in bad:
            yield Quarantined(h.source, "file", MODALITY, undecodable[h.source],
                              f"SeriesInstanceUID={key[1]} SOPInstanceUID={h.sop_uid}")
            final[h.source] = "quarantined"
        if bad:
            series[key] = [h for h in series[key] if h.source not in undecodable]
            if not series[key]:
                del series[key]

    loaded = [h for members in series.values() for h in members]
    rows = {
        "instances": tables.instance_rows(loaded),
        "series": tables.series_rows(series),
        "studies": tables.study_rows(series),
        "image_sets": tables.image_set_rows(series, status),
        "radiomics": tables.radiomics_rows(series, results),
    }
    for name, table_rows in rows.items():
        if table_rows:
            yield write_part(ctx, name, table_rows)
    for h in loaded:
        final[h.source] = "loaded"
    yield from _notes(series, status, results)

    study = {source: o.study_uid for source, o in outcomes.items() if isinstance(o, DicomHeader)}
    for source in sorted(final):
        kind = final[source]
        yield FileDone(source, 1, int(kind == "loaded"), int(kind == "quarantined"), int(kind == "skipped"),
                       group=study.get(source, ""), checksum=checksums.get(source))


def _folder(source: str) -> str:
    return source.rsplit("/", 1)[0] if "/" in source else ""


def _copy_decode_problems(headers: list[DicomHeader], pool: Any) -> dict[str, str]:
    """Why each copy of a duplicated instance does not decode (copies that decode are absent). Only instances
    held by more than one file are decoded here: which copy loads is decided after decoding."""
    copies: dict[tuple[str, str, str], list[DicomHeader]] = {}
    for h in headers:
        copies.setdefault(instance_key(h), []).append(h)
    to_decode = [_slice_source(h) for group in copies.values() if len(group) > 1 for h in group if h.has_pixels]
    if not to_decode:
        return {}
    results = pool.map(_decode_one, to_decode) if pool is not None else map(_decode_one, to_decode)
    return {source: reason for failures in results for source, reason in failures}


def _decode_one(src: SliceSource) -> list[tuple[str, str]]:
    return decode_failures([src])


def _notes(series: dict[tuple[str, str], list[DicomHeader]], status: dict[str, str],
           results: list[Any]) -> Iterator[Note]:
    """A summary line for every image set without radiomic features (why), and for those whose features
    carry no physical units (no geometry)."""
    by_id = {r.imagesetid: r for r in results}
    for (study, uid), members in series.items():
        isid = image_set_id(study, uid)
        subject = f"image set {isid} (series {uid}, {len(members)} file(s), first {members[0].source})"
        why = status.get(isid, "")
        if why != "ok":
            yield Note(members[0].source, subject, f"no radiomics - {why}")
            continue
        res = by_id.get(isid)
        geometry = (res.features or {}).get("geometry_status") if res else None
        if geometry and geometry != "ok":
            yield Note(members[0].source, subject, f"radiomics without physical units - {geometry}")


def write_part(ctx: ReadContext, table: str, rows: list[dict[str, Any]]) -> ParquetPart:
    import pyarrow.parquet as pq

    data = tables.to_arrow(table, rows)
    path = ctx.part_path(tables.DATABASE, table)
    pq.write_table(data, path, compression="zstd")
    sources = tuple(sorted(set(data.column("lake_source").to_pylist())))
    return ParquetPart(tables.DATABASE, table, path, data.num_rows, sources)


def _slice_source(h: DicomHeader) -> SliceSource:
    return SliceSource(h.path, h.source, h.sop_uid, h.instance_number, tuple(h.frame_geometry), h.has_pixels,
                       h.samples_per_pixel)


def summarize(outputs: list[Output]) -> Counter:
    """Counts of loaded / quarantined / skipped files in a list of outputs (used by tests and the bench)."""
    c: Counter = Counter()
    for o in outputs:
        if isinstance(o, FileDone):
            c["read"] += o.read
            c["loaded"] += o.loaded
            c["quarantined"] += o.quarantined
            c["skipped"] += o.skipped
    return c
