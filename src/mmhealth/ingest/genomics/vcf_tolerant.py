"""The tolerant path for a VCF the fast path (`vcf.convert`) refuses: what htslib reads loads.

1. `clean_copy` writes the records as plain text, line by line in Python, quarantining only the lines that oxbow or
   the text reader cannot parse at all (another column count, an empty sample column, a non-integer in AD); a
   damaged gzip stream is read as far as zlib can and its rest quarantined as one record.
2. `_header_for_oxbow`: a header oxbow refuses must be one htslib (pysam) reads, else the file is rejected; oxbow is
   then handed the header as htslib reads it (`vcf_header.repair`), with the FORMAT keys the data uses but the
   header lacks declared.
3. The clean copy goes through `vcf.convert`, the fast path's own converter, so a record meets the same checks on
   both paths; positions in the quarantine and warnings are the original file's lines. A record oxbow still
   cannot parse is found (its batch, then one record) and quarantined, up to `_MAX_UNPARSEABLE` per file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from mmhealth.ingest.genomics import vcf_raw
from mmhealth.ingest.genomics.fasta import Reference
from mmhealth.ingest.genomics.vcf import (
    BATCH_SITES, GENOTYPE_FIELDS, MODALITY, NeedsDeclarations, Rejected, VcfResult, Warnings, convert,
)
from mmhealth.ingest.genomics.vcf_header import (
    HeaderNote, VcfHeader, first_line, htslib_refuses, open_text, oxbow_refuses, raise_if_truncated, repair,
)
from mmhealth.ingest.records import Quarantined

# A file is given up after this many records oxbow still cannot parse (each costs a re-read of the file).
_MAX_UNPARSEABLE = 20


@dataclass
class CleanCopy:
    line_of: list[int] = field(default_factory=list)  # original line of each record kept
    quarantined: list[Quarantined] = field(default_factory=list)
    format_keys: set[str] = field(default_factory=set)
    warnings: Warnings = field(default_factory=Warnings)
    records: int = 0  # records seen, kept or not (+1 for an unreadable tail)


def read(path: Path, rel: str, header: VcfHeader, out: Path, reference: Reference | None, scratch: Path,
         refusal: str) -> VcfResult:
    """Load `path` on the tolerant path (`refusal`: why the fast path refused it). Raises `Rejected`."""
    scratch.mkdir(parents=True, exist_ok=True)
    body = scratch / (Path(rel).name + ".body")
    clean = scratch / (Path(rel).name + ".clean.vcf")
    try:
        copy = clean_copy(path, rel, header, body)
        text, notes, declared = _header_for_oxbow(path, header, copy.format_keys)
        for attempt in range(_MAX_UNPARSEABLE + 1):
            _join(clean, text, body)
            try:
                result = convert(clean, rel, header, out, reference, header_lines=text.count("\n"),
                                 line_of=copy.line_of, extra_formats=declared)
                break
            except Rejected:
                raise
            except (NeedsDeclarations, vcf_raw.Misaligned) as exc:  # not a record oxbow cannot parse
                raise Rejected(f"unreadable-vcf: {first_line(exc)} (even on the tolerant path)") from None
            except Exception as exc:
                out.unlink(missing_ok=True)
                k = _unparseable_record(clean, text, bool(header.samples))
                if k is None or attempt == _MAX_UNPARSEABLE:
                    raise Rejected(f"unreadable-vcf: {first_line(exc)} (even on the tolerant path)") from None
                _drop_body_line(body, k)
                copy.quarantined.append(Quarantined(rel, f"line {copy.line_of[k]}", MODALITY,
                                                    f"invalid-vcf-line: oxbow cannot parse the record: "
                                                    f"{first_line(exc)}", _line_text(path, copy.line_of[k])))
                del copy.line_of[k]
    finally:
        body.unlink(missing_ok=True)
        clean.unlink(missing_ok=True)
    result.quarantined = sorted(copy.quarantined + result.quarantined, key=lambda q: _line_number(q.position))
    result.records = copy.records
    result.warnings.add(f"tolerant-path: the fast reader refused the file ({refusal}); read on the tolerant path",
                        None)
    for note in notes:
        result.warnings.add(note.warning, note.line)
    result.warnings.merge(copy.warnings)
    return result


def _line_number(position: str) -> int:
    return int(position.split()[-1]) if position.startswith("line ") else 0


def _header_for_oxbow(path: Path, header: VcfHeader, format_keys: set[str]) -> tuple[str, list[HeaderNote], set[str]]:
    """The header text to hand oxbow, the repairs made, and the FORMAT keys it declares that the file did not."""
    undeclared = {k for k in format_keys if k not in header.formats}
    original = "\n".join(header.lines) + "\n"
    refusal = oxbow_refuses(original, bool(header.samples))
    gt = header.formats.get("GT")
    if refusal is None and not undeclared and (gt is None or (gt.type, gt.number) == ("String", "1")):
        return original, [], set()
    if refusal is not None:
        problem = htslib_refuses(path)
        if problem is not None:
            raise Rejected(f"invalid-vcf-header: htslib cannot read it either ({problem}); oxbow: {refusal}")
    for version in (None, "VCFv4.2"):
        text, notes = repair(header, undeclared, version)
        still = oxbow_refuses(text, bool(header.samples))
        if still is None:
            return text, notes, undeclared
    raise Rejected(f"unreadable-vcf: oxbow refuses the header even as htslib reads it ({still})")


def _join(clean: Path, header_text: str, body: Path) -> None:
    import shutil

    with open(clean, "w", encoding="utf-8") as dst, open(body, encoding="utf-8") as src:
        dst.write(header_text)
        shutil.copyfileobj(src, dst, 1 << 20)


def _drop_body_line(body: Path, k: int) -> None:
    tmp = body.with_suffix(".tmp")
    with open(body, encoding="utf-8") as src, open(tmp, "w", encoding="utf-8") as dst:
        for i, line in enumerate(src):
            if i != k:
                dst.write(line)
    tmp.replace(body)


def _line_text(path: Path, lineno: int) -> str:
    with open_text(path) as fh:
        for i, line in enumerate(fh, start=1):
            if i == lineno:
                return line.rstrip("\r\n")
    return ""


def _unparseable_record(clean: Path, header_text: str, with_samples: bool) -> int | None:
    """Index of the first record of `clean` oxbow cannot parse, None if it parses them all. The failing batch is
    found in one pass, then narrowed on small files holding only its window (1,024, 32, then 1 record per batch)."""
    import itertools

    n_header = header_text.count("\n")
    window_start, window = 0, None
    for size in (BATCH_SITES, 1024, 32, 1):
        if window is None:
            parsed = _parsed_before_failure(clean, with_samples, size)
        else:
            part = clean.with_suffix(".window.vcf")
            with open(clean, encoding="utf-8") as src, open(part, "w", encoding="utf-8") as dst:
                dst.write(header_text)
                dst.writelines(itertools.islice(src, n_header + window_start, n_header + window_start + window))
            try:
                parsed = _parsed_before_failure(part, with_samples, size)
            finally:
                part.unlink(missing_ok=True)
        if parsed is None:
            return None
        window_start += parsed
        window = size
    return window_start


def _parsed_before_failure(path: Path, with_samples: bool, batch_size: int) -> int | None:
    import oxbow
    import pyarrow as pa

    src = oxbow.from_vcf(str(path), samples="*" if with_samples else None, samples_nested=True,
                         info_fields=None, genotype_fields=GENOTYPE_FIELDS if with_samples else None)
    n = 0
    try:
        reader = pa.RecordBatchReader.from_stream(src.scanner().scan(columns=src.columns, batch_size=batch_size))
        while True:
            try:
                n += reader.read_next_batch().num_rows
            except StopIteration:
                return None
    except Exception:  # oxbow's parse error: the record after the `n` parsed
        return n


_AD_VALUE = re.compile(r"^(\.|[+-]?[0-9]+)(,(\.|[+-]?[0-9]+))*$")


def clean_copy(path: Path, rel: str, header: VcfHeader, out: Path) -> CleanCopy:
    """Write the records of `path` that oxbow and the text reader can parse to `out` (plain text, no header):
    lines with another column count, an empty sample column or a non-integer AD are quarantined (htslib
    refuses these too), blank and '#' lines in the body are not records. Every other check is left to
    `convert`, so a record meets the same checks on both paths."""
    copy = CleanCopy()
    n_cols = header.n_columns
    samples = header.samples
    ad = header.formats.get("AD")
    check_ad = ad is None or ad.type == "Integer"
    keys_of: dict[str, list[str]] = {}

    def take(lineno: int, line: str, dst) -> None:
        body = line.rstrip("\r\n")
        if not body.strip() or body.startswith("#"):
            return  # not a record
        copy.records += 1
        if "\ufffd" in body:
            copy.warnings.add("invalid-utf8: bytes that are not UTF-8 were replaced by U+FFFD", lineno, 1)
        cols = body.split("\t")
        problem = ""
        if len(cols) > n_cols and not samples:
            copy.warnings.add("extra-columns: a sites-only record has more than 8 columns; the rest is ignored, "
                              "as htslib does", lineno, 1)
            cols = cols[:8]
        elif len(cols) != n_cols:
            problem = f"invalid-vcf-line: {len(cols)} columns, the header declares {n_cols}"
        if samples and not problem:
            keys = keys_of.get(cols[8])
            if keys is None:
                keys = keys_of[cols[8]] = [] if cols[8] in (".", "") else cols[8].split(":")
                copy.format_keys.update(keys)
            problem = _sample_problem(cols[9:], samples, keys, check_ad)
        if problem:
            copy.quarantined.append(Quarantined(rel, f"line {lineno}", MODALITY, problem, body))
            return
        dst.write("\t".join(cols) + "\n")
        copy.line_of.append(lineno)

    lineno, last = 0, None  # `last`: a final line without newline, taken only once the stream proved complete
    with open(out, "w", encoding="utf-8") as dst:
        try:
            with open_text(path) as fh:
                for lineno, line in enumerate(fh, start=1):
                    if lineno <= header.header_lines:
                        continue
                    if not line.endswith("\n"):
                        last = (lineno, line)
                        break
                    take(lineno, line, dst)
                raise_if_truncated(fh)
            if last:
                take(*last, dst)
        except (OSError, EOFError, ValueError) as exc:  # truncated or corrupt compression
            copy.records += 1  # the record cut in two (if any line was cut, it is this one)
            at = last[0] if last else lineno + 1
            copy.quarantined.append(Quarantined(
                rel, f"line {at}", MODALITY,
                f"unreadable-vcf: the file cannot be read from line {at} on ({first_line(exc)}); at least one "
                f"record is lost there and any after it could not be counted", last[1][:200] if last else ""))
    return copy


def _sample_problem(values: list[str], samples: list[str], keys: list[str], check_ad: bool) -> str:
    ad_at = keys.index("AD") if check_ad and "AD" in keys else -1
    for name, value in zip(samples, values):
        if value == "":
            return f"invalid-vcf-line: sample {name} is an empty column (a missing call is written '.')"
        if ad_at >= 0:
            parts = value.split(":")
            if ad_at < len(parts) and parts[ad_at] not in (".", "") and not _AD_VALUE.match(parts[ad_at]):
                return f"invalid-vcf-line: FORMAT AD {parts[ad_at][:40]!r} of sample {name} is not Integer"
    return ""
