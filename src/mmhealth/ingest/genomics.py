"""The genomics modality: VCF -> omics.variants, sites-only (ClinVar-style) VCF -> omics.annotations,
FASTA -> omics.reference_contigs; REF alleles checked against the reference when there is one."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

from mmhealth.ingest import fasta as fa
from mmhealth.ingest import vcf
from mmhealth.ingest.records import FileDone, Output, ParquetPart, Quarantined, ReadContext, SourceFile, TableBatch

DATABASE = "omics"


class GenomicsReader:
    name = vcf.MODALITY

    def discover(self, root: Path) -> Iterator[Path]:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for fn in sorted(filenames):
                path = Path(dirpath) / fn
                if vcf.is_vcf(path) or fa.is_fasta(path):
                    yield path

    def read(self, files: list[SourceFile], ctx: ReadContext) -> Iterator[Output]:
        reference = self._reference(files, ctx)
        for f in files:
            if fa.is_fasta(f.path):
                yield from self._fasta(f)
        for f in files:
            if vcf.is_vcf(f.path):
                yield from self._vcf(f, ctx, reference)
            if ctx.progress is not None:
                ctx.progress.update(f.size)

    def _reference(self, files: list[SourceFile], ctx: ReadContext):
        # Only an explicit --reference checks REF alleles: a FASTA that merely sits in the source folder may
        # be for another build or another region, and would quarantine every site it does not cover.
        path = ctx.options.get("reference")
        return fa.Reference(Path(path)) if path else None

    def _fasta(self, f: SourceFile) -> Iterator[Output]:
        import pyarrow as pa

        try:
            contigs = list(fa.contigs(f.path))
        except (OSError, ValueError) as exc:
            yield Quarantined(f.rel, "file", self.name, f"unreadable-fasta: {exc}")
            yield FileDone(f.rel, read=1, loaded=0, quarantined=1, skipped=0)
            return
        data = pa.table({
            "name": pa.array([c.name for c in contigs], pa.string()),
            "length": pa.array([c.length for c in contigs], pa.int64()),
            "checksum": pa.array([c.checksum for c in contigs], pa.string()),
        })
        yield TableBatch(DATABASE, "reference_contigs", f.rel, data)
        yield FileDone(f.rel, read=len(contigs), loaded=len(contigs), quarantined=0, skipped=0)

    def _vcf(self, f: SourceFile, ctx: ReadContext, reference) -> Iterator[Output]:
        try:
            header = vcf.read_header(f.path)
        except (OSError, EOFError) as exc:
            yield Quarantined(f.rel, "file", self.name, f"unreadable-file: {exc}")
            yield FileDone(f.rel, read=1, loaded=0, quarantined=1, skipped=0)
            return
        if header.problem:
            yield Quarantined(f.rel, "file", self.name, header.problem, _head(f.path))
            yield FileDone(f.rel, read=1, loaded=0, quarantined=1, skipped=0)
            return
        out = ctx.part_path(DATABASE, header.table)
        try:
            result = vcf.convert(f.path, f.rel, header, out, reference)
            extra: list[Quarantined] = []
        except Exception as first:  # oxbow raises bare Arrow/IO errors for malformed lines
            out.unlink(missing_ok=True)
            clean = ctx.staging_dir / "vcf-clean" / (Path(f.rel).name + ".clean.vcf")
            clean.parent.mkdir(parents=True, exist_ok=True)
            try:
                line_of, extra = vcf.clean_copy(f.path, f.rel, header, clean)
                result = vcf.convert(clean, f.rel, header, out, reference, line_of=line_of)
            except Exception as exc:
                out.unlink(missing_ok=True)
                reason = f"unreadable-vcf: {str(exc or first).splitlines()[0][:300]}"
                yield Quarantined(f.rel, "file", self.name, reason, _head(f.path))
                yield FileDone(f.rel, read=1, loaded=0, quarantined=1, skipped=0)
                return
            finally:
                clean.unlink(missing_ok=True)
        quarantined = extra + result.quarantined
        yield from quarantined
        yield ParquetPart(DATABASE, header.table, out, result.rows, (f.rel,))
        read = result.records + len(extra)
        yield FileDone(f.rel, read=read, loaded=result.loaded_sites, quarantined=len(quarantined), skipped=0)


def _head(path: Path) -> str:
    try:
        with vcf._open_text(path) as fh:
            return fh.read(1024)
    except (OSError, EOFError):
        return ""
