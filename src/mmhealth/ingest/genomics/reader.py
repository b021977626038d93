"""The genomics modality: VCF -> omics.variants, sites-only (ClinVar-style) VCF -> omics.annotations,
FASTA -> omics.reference_contigs; REF alleles checked against the reference when there is one.

Every VCF record has one fate: loaded, or quarantined with its line and reason. A file that cannot be read at
all is quarantined whole with the number of records it held. What was loaded but tolerated (undeclared keys,
repaired headers, type mismatches, POS 0) goes to `lake_meta.warnings`, one row per file and kind."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

from mmhealth.ingest.genomics import fasta as fa
from mmhealth.ingest.genomics import vcf, vcf_tolerant
from mmhealth.ingest.genomics.fasta import Reference
from mmhealth.ingest.genomics.vcf_header import VcfHeader, open_text
from mmhealth.ingest.readahead import read_ahead_of, readahead
from mmhealth.ingest.records import (FileDone, Output, ParquetPart, Quarantined, ReadContext, Skipped, SourceFile,
                                     TableBatch, hashed_as_read, warnings_batch)
from mmhealth.ingest.workers import default_workers, spawn_pool

DATABASE = "omics"
# Genomics files the lake does not read. They are claimed all the same (the imaging reader leaves them alone), so
# that each is skipped with a reason that says what to do, instead of being in no count at all.
NOT_READ = {
    ".bcf": "other-format: BCF (binary VCF) is not read - convert it to VCF: bcftools view -Oz -o FILE.vcf.gz FILE",
    ".bam": "other-format: BAM holds read alignments, not variants - call variants into a VCF first",
    ".cram": "other-format: CRAM holds read alignments, not variants - call variants into a VCF first",
}


def _not_read(path: Path) -> str | None:
    return next((reason for suffix, reason in NOT_READ.items() if path.name.lower().endswith(suffix)), None)


class GenomicsReader:
    name = vcf.MODALITY
    reports_checksums = True  # each new file is hashed as it is read (records.hashed_as_read)

    def discover(self, root: Path) -> Iterator[Path]:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for fn in sorted(filenames):
                path = Path(dirpath) / fn
                if vcf.is_vcf(path) or fa.is_fasta(path) or _not_read(path):
                    yield path

    def read(self, files: list[SourceFile], ctx: ReadContext) -> Iterator[Output]:
        reference = self._reference(files, ctx)
        for f in files:
            if fa.is_fasta(f.path):
                yield from hashed_as_read(f, self._fasta(f))
        rest = [f for f in files if not fa.is_fasta(f.path)]
        workers = ctx.options.workers or default_workers()
        if workers > 1 and sum(1 for f in rest if vcf.is_vcf(f.path)) >= POOL_MIN_VCFS:
            outputs = _read_in_pool(rest, ctx, workers)
        else:
            part_path = lambda table: ctx.part_path(DATABASE, table)  # noqa: E731
            outputs = ((f, _read_one(f, part_path, reference, ctx.staging_dir / "vcf-clean"))
                       for f in read_ahead_of(rest, lambda f: f.path))
        for f, file_outputs in outputs:
            yield from file_outputs
            if ctx.progress is not None:
                ctx.progress.update(f.size)

    def _reference(self, files: list[SourceFile], ctx: ReadContext):
        # Only an explicit --reference checks REF alleles: a FASTA that merely sits in the source folder may
        # be for another build or another region, and would quarantine every site it does not cover.
        path = ctx.options.reference
        return fa.Reference(Path(path)) if path else None

    def _fasta(self, f: SourceFile) -> Iterator[Output]:
        import pyarrow as pa

        try:
            contigs = list(fa.contigs(f.path))
        except (OSError, ValueError, EOFError) as exc:
            # a FASTA record is a sequence: count the '>' lines the file holds (read is records, not files)
            n, problem = fa.count_sequences(f.path)
            counted = f"{n} sequences not loaded" if problem is None else \
                f"at least {n} sequences not loaded; counting stopped: {problem}"
            yield Quarantined(f.rel, "file", self.name, f"unreadable-fasta: {vcf.first_line(exc)} ({counted})")
            yield FileDone(f.rel, read=n, loaded=0, quarantined=n, skipped=0)
            return
        data = pa.table({
            "name": pa.array([c.name for c in contigs], pa.string()),
            "length": pa.array([c.length for c in contigs], pa.int64()),
            "checksum": pa.array([c.checksum for c in contigs], pa.string()),
        })
        yield TableBatch(DATABASE, "reference_contigs", f.rel, data)
        yield FileDone(f.rel, read=len(contigs), loaded=len(contigs), quarantined=0, skipped=0)


# VCFs below this count are read in this process: a pool's start-up (two fresh interpreters importing pyarrow,
# oxbow and pysam: 0.4 s here) costs about what a second core saves on 100 small VCFs (4-5 ms each).
POOL_MIN_VCFS = 128
CHUNK_VCFS = 32  # files per pool task: each worker announces a chunk's reads at once (readahead), then parses


def _read_one(f: SourceFile, part_path, reference: Reference | None, scratch: Path) -> Iterator[Output]:
    """A VCF's or an unread format's outputs, its FileDone carrying the checksum the lake left to this reader."""
    if vcf.is_vcf(f.path):
        return hashed_as_read(f, _vcf(f, part_path, reference, scratch))
    reason = _not_read(f.path)
    if reason is None:  # not a genomics file (discover never yields one)
        return iter(())
    return hashed_as_read(f, iter([Skipped(f.rel, "file", reason),
                                   FileDone(f.rel, read=1, loaded=0, quarantined=0, skipped=1)]))


def _read_in_pool(files: list[SourceFile], ctx: ReadContext, workers: int) -> Iterator[tuple[SourceFile, list]]:
    """(file, its outputs) in `files`' order, the files parsed in chunks across `workers` processes: the per-file
    work (oxbow's parse, the genotype reshaping, REF checks) is Python-bound, one core each."""
    reference = str(ctx.options.reference) if ctx.options.reference else None
    chunks = [files[i:i + CHUNK_VCFS] for i in range(0, len(files), CHUNK_VCFS)]
    tasks = [(chunk, reference, str(ctx.staging_dir), ctx.run_id, n) for n, chunk in enumerate(chunks)]
    with spawn_pool(min(workers, len(chunks))) as pool:
        for chunk, outputs in zip(chunks, pool.map(_read_chunk, tasks)):  # map keeps the input order
            yield from zip(chunk, outputs)


_WORKER_REFERENCE: dict[str, Reference] = {}  # per worker process: the --reference, loaded once


def _read_chunk(task) -> list[list[Output]]:
    files, reference_path, staging, run_id, n = task
    reference = None
    if reference_path:
        reference = _WORKER_REFERENCE.get(reference_path) or _WORKER_REFERENCE.setdefault(
            reference_path, Reference(Path(reference_path)))
    readahead(f.path for f in files)
    made = 0

    def part_path(table: str) -> Path:  # unique across workers: the chunk's number and the file's place in it
        nonlocal made
        made += 1
        folder = Path(staging) / DATABASE / table
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"part-{run_id}-c{n:06d}-{made:03d}.parquet"

    # the tolerant path's scratch files are named for the VCF: a folder per chunk keeps two workers' apart
    scratch = Path(staging) / "vcf-clean" / f"c{n:06d}"
    return [list(_read_one(f, part_path, reference, scratch)) for f in files]


def _vcf(f: SourceFile, part_path, reference, scratch: Path) -> Iterator[Output]:
    try:
        header = vcf.read_header(f.path)
    except (OSError, EOFError) as exc:
        yield from _rejected(f, f"unreadable-file: {vcf.first_line(exc)}")
        return
    if header.problem:
        yield from _rejected(f, header.problem)
        return
    out = part_path(header.table)
    try:
        result = load_vcf(f.path, f.rel, header, out, reference, scratch)
    except vcf.Rejected as exc:
        out.unlink(missing_ok=True)
        yield from _rejected(f, exc.reason)
        return
    yield from result.quarantined
    warnings = result.warnings.rows()
    if warnings:
        yield warnings_batch(f.rel, vcf.MODALITY, [(w.position, w.warning, w.records) for w in warnings])
    yield ParquetPart(DATABASE, header.table, out, result.rows, (f.rel,))
    yield FileDone(f.rel, read=result.records, loaded=result.loaded_sites,
                   quarantined=len(result.quarantined), skipped=0)


def load_vcf(path: Path, rel: str, header: VcfHeader, out: Path, reference: Reference | None,
             scratch: Path) -> vcf.VcfResult:
    """The file's records into the Parquet part `out`: the fast path (`vcf.convert`), and the tolerant path
    (`vcf_tolerant`) if the fast path refuses the file. Raises `vcf.Rejected` when not even the tolerant path can
    read it. It lives here, beside the reader, so that `vcf_tolerant` (which builds on `vcf`) is not imported by
    `vcf` in turn."""
    try:
        return vcf.convert(path, rel, header, out, reference)
    except vcf.Rejected:
        raise
    except Exception as exc:  # oxbow and Arrow raise bare errors for input they cannot parse
        out.unlink(missing_ok=True)
        return vcf_tolerant.read(path, rel, header, out, reference, scratch, vcf.first_line(exc))


def _rejected(f: SourceFile, reason: str) -> Iterator[Output]:
    """The whole file quarantined: one row, and every record it holds counted (read is records, not files)."""
    n, problem = vcf.count_records(f.path)
    if problem is None:
        reason = f"{reason} ({n} records not loaded)"
    else:
        reason = f"{reason} (at least {n} records not loaded; counting stopped: {problem})"
    yield Quarantined(f.rel, "file", vcf.MODALITY, reason, _head(f.path))
    yield FileDone(f.rel, read=n, loaded=0, quarantined=n, skipped=0)


def _head(path: Path) -> str:
    try:
        with open_text(path) as fh:
            return fh.read(1024)
    except (OSError, EOFError, ValueError):
        return ""
