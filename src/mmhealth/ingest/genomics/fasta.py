"""FASTA references: `omics.reference_contigs` rows and REF-allele lookups for the VCF reader."""

from __future__ import annotations

import bisect
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

FASTA_SUFFIXES = (".fa", ".fasta", ".fna", ".fa.gz", ".fasta.gz", ".fna.gz")


def is_fasta(path: Path) -> bool:
    return path.name.lower().endswith(FASTA_SUFFIXES)


@dataclass(frozen=True)
class Contig:
    name: str
    length: int
    checksum: str  # md5 of the upper-case sequence, as in SAM @SQ M5 and refget


def contigs(path: Path) -> Iterator[Contig]:
    """Every sequence in the file, streamed one at a time (pysam reads without needing a .fai)."""
    import pysam

    with pysam.FastxFile(str(path)) as fh:
        for rec in fh:
            seq = (rec.sequence or "").upper()
            yield Contig(rec.name, len(seq), hashlib.md5(seq.encode()).hexdigest())


def count_sequences(path: Path) -> tuple[int, str | None]:
    """Sequences ('>' lines) in a FASTA pysam cannot read, and why counting stopped early (None: whole file)."""
    from mmhealth.ingest.genomics.vcf_header import first_line, open_text, raise_if_truncated

    n = 0
    try:
        with open_text(path) as fh:
            for line in fh:
                n += line.startswith(">")
            raise_if_truncated(fh)
    except (OSError, EOFError, ValueError) as exc:
        return n, first_line(exc)
    return n, None


def _alt_name(name: str) -> str:
    return name[3:] if name.startswith("chr") else "chr" + name


_WINDOW = re.compile(r"^(?P<chrom>.+):(?P<start>\d+)-(?P<end>\d+)$")


class Reference:
    """REF lookups by contig and 0-based position.

    A sequence named `chrom:start-end` (samtools' region naming, 1-based inclusive) covers only that window of
    `chrom`, so a panel reference made of windows works as well as a whole genome. Contig names match with or
    without a `chr` prefix. With a `.fai` index sequences are fetched on demand (one cached at a time: VCFs are
    sorted); without one the file is read into memory once, which suits panels, not whole genomes (index
    those with `samtools faidx`)."""

    def __init__(self, path: Path):
        import pysam

        self.path = path
        self._all: dict[str, bytes] | None = None
        self._fasta = None
        self._cache: tuple[str, bytes] | None = None
        if Path(str(path) + ".fai").exists():
            self._fasta = pysam.FastaFile(str(path))
            names = list(self._fasta.references)
        else:
            with pysam.FastxFile(str(path)) as fh:
                self._all = {rec.name: (rec.sequence or "").upper().encode() for rec in fh}
            names = list(self._all)
        # contig -> sorted [(start0, end0 exclusive or None for whole contig, sequence name)]
        self._windows: dict[str, list[tuple[int, int | None, str]]] = {}
        for name in names:
            m = _WINDOW.match(name)
            if m:
                entry = (int(m["start"]) - 1, int(m["end"]), name)
                chrom = m["chrom"]
            else:
                entry, chrom = (0, None, name), name
            self._windows.setdefault(chrom, []).append(entry)
        for wins in self._windows.values():
            wins.sort(key=lambda w: w[0])
        self._starts = {chrom: [w[0] for w in wins] for chrom, wins in self._windows.items()}

    def _seq(self, name: str) -> bytes:
        if self._all is not None:
            return self._all[name]
        if self._cache and self._cache[0] == name:
            return self._cache[1]
        seq = self._fasta.fetch(name).upper().encode()
        self._cache = (name, seq)
        return seq

    def has_contig(self, contig: str) -> bool:
        return contig in self._windows or _alt_name(contig) in self._windows

    def fetch(self, contig: str, start0: int, length: int) -> bytes | None:
        """The reference bases at [start0, start0 + length), or None when the reference does not cover them."""
        key = contig if contig in self._windows else _alt_name(contig)
        wins = self._windows.get(key)
        if not wins:
            return None
        i = bisect.bisect_right(self._starts[key], start0) - 1
        if i < 0:
            return None
        wstart, wend, name = wins[i]
        if wend is not None and start0 + length > wend:
            return None
        seq = self._seq(name)
        lo = start0 - wstart
        if lo + length > len(seq):
            return None
        return seq[lo : lo + length]
