"""`--modality imaging`: DICOM files in, `imaging.*` tables, quarantine records and per-file counts out.

The run, in order:
1. headers of every new or changed file (`dicom.read_header`; in chunks across the worker pool for large
   runs): skipped (not DICOM, DICOMDIR), quarantined (unreadable, truncated, missing identifiers) or loaded;
2. a study touched by a changed file is rebuilt whole: headers of its unchanged files are read again so study,
   series and image set rows (and radiomics) describe all of it, and those files are re-emitted;
3. one file per SOPInstanceUID (later copies skipped); series whose frames cannot form one volume are
   quarantined file by file (`inconsistent-geometry`);
4. per image set, in a process pool: volume, segmentation, radiomics; files whose pixels do not decode are
   quarantined and their image set gets no radiomics row;
5. the five tables written as Parquet parts (one per table), then one `FileDone` per file.
Every file ends in exactly one of loaded / quarantined / skipped, so read = loaded + quarantined + skipped.
"""

from __future__ import annotations

import gc
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from mmhealth.ingest import imaging_tables as tables
from mmhealth.ingest.dicom import (
    DicomHeader, NotLoaded, Rejection, drop_duplicates, group_series, image_set_id, read_header,
    series_geometry_problem,
)
from mmhealth.ingest.radiomics import ImageSetTask, default_workers, make_pool, run_image_sets
from mmhealth.ingest.records import (
    FileDone, Output, ParquetPart, Quarantined, ReadContext, Skipped, SourceFile,
)
from mmhealth.ingest.volume import SliceSource

MODALITY = "imaging"


def read_imaging(files: list[SourceFile], ctx: ReadContext) -> Iterator[Output]:
    """The imaging reader's `read` (see `mmhealth.ingest.records.ModalityReader`)."""
    from mmhealth.ingest.segment import resolve

    if not files:
        return
    options = ctx.options or {}
    segmenter = options.get("segmenter")
    resolve(segmenter)  # an unknown --segmenter is a user error: fail before reading anything

    workers = max(1, options.get("workers") or default_workers())
    pool = make_pool(workers) if workers > 1 else None
    try:
        outcomes = read_headers(files, pool, ctx.progress)
        changed_studies = {o.study_uid for o in outcomes.values() if isinstance(o, DicomHeader)}
        if changed_studies and ctx.unchanged:
            for source, o in read_headers(ctx.unchanged, pool, None).items():
                if isinstance(o, DicomHeader) and o.study_uid in changed_studies:
                    outcomes[source] = o
        yield from run_outcomes(outcomes, ctx, segmenter=segmenter, workers=workers,
                                radiomics=options.get("radiomics", True), pool=pool,
                                # the lake passes a progress bar only when it shows one; ours follows suit
                                progress=options.get("progress", ctx.progress is not None))
    finally:
        if pool is not None:
            pool.shutdown()


HEADER_CHUNK = 256  # files per task when headers are read in the pool: big enough to amortise pickling


def read_headers(files: list[SourceFile], pool: Any, progress: Any) -> dict[str, Any]:
    """Header outcome per source, read in `pool` (chunks of files) when there is one and enough files."""
    items = [(f.path if isinstance(f.path, Path) else Path(f.path), f.rel) for f in files]
    sizes = {f.rel: f.size for f in files}
    if pool is None or len(items) < 2 * HEADER_CHUNK:
        out = {}
        with _young_gc_only() as tick:
            for path, rel in items:
                out[rel] = read_header(path, rel)
                tick()
                if progress is not None:
                    progress.update(sizes[rel])
        return out
    chunks = [items[i:i + HEADER_CHUNK] for i in range(0, len(items), HEADER_CHUNK)]
    out = {}
    for chunk_result in pool.map(_read_chunk, chunks):  # map keeps the input order: output is deterministic
        for rel, outcome in chunk_result:
            out[rel] = outcome
            if progress is not None:
                progress.update(sizes[rel])
    return out


def _read_chunk(items: list[tuple[Path, str]]) -> list[tuple[str, Any]]:
    with _young_gc_only() as tick:
        out = []
        for path, rel in items:
            out.append((rel, read_header(path, rel)))
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
                 pool: Any = None) -> Iterator[Output]:
    """Steps 3-5 for header outcomes keyed by source."""
    final: dict[str, str] = {}  # source -> loaded | quarantined | skipped
    for source, o in outcomes.items():
        if isinstance(o, Rejection):
            yield Quarantined(source, "file", MODALITY, o.reason, o.raw)
            final[source] = "quarantined"
        elif isinstance(o, NotLoaded):
            yield Skipped(source, "file", o.reason)
            final[source] = "skipped"

    headers = [o for o in outcomes.values() if isinstance(o, DicomHeader)]
    headers, duplicates = drop_duplicates(headers)
    for d in duplicates:
        yield Skipped(d.source, "file", d.reason)
        final[d.source] = "skipped"

    series = group_series(headers)
    for key in list(series):
        problem = series_geometry_problem(series[key])
        if problem:
            members = series.pop(key)
            for h in members:
                yield Quarantined(h.source, "file", MODALITY, f"{problem} (series {key[1]}, {len(members)} files)",
                                  f"SeriesInstanceUID={key[1]} SOPInstanceUID={h.sop_uid}")
                final[h.source] = "quarantined"

    status: dict[str, str] = {}
    tasks = []
    for (study, uid), members in series.items():
        isid = image_set_id(study, uid)
        if not any(h.has_pixels for h in members):
            status[isid] = "no-pixels: no instance carries Pixel Data (e.g. SR, RT, waveform objects)"
        elif not radiomics:
            status[isid] = "not-computed: radiomics turned off for this run"
        else:
            tasks.append(ImageSetTask(isid, members[0].attributes.get("modality"),
                                      tuple(_slice_source(h) for h in members), segmenter))
    results = []
    undecodable: dict[str, str] = {}
    for res in run_image_sets(tasks, workers=workers, progress=progress, pool=pool):
        status[res.imagesetid] = res.status
        undecodable.update(dict(res.undecodable))
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

    for source in sorted(final):
        kind = final[source]
        yield FileDone(source, 1, int(kind == "loaded"), int(kind == "quarantined"), int(kind == "skipped"))


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
