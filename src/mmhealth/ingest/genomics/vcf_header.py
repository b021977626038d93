"""VCF headers: read the way htslib reads them, and rewritten for oxbow when oxbow refuses them.

oxbow (noodles) is the fast record parser, but its header parser is stricter than htslib's: a duplicated
`##INFO` ID, some `\\"` escapes in a Description, a definition without Description or with `Type=Foo` make it
refuse the whole file. htslib reads those (it keeps the first of two definitions, assumes `String` for an unknown
Type, ...). When oxbow refuses a header, the tolerant path checks that htslib (pysam) accepts it and hands oxbow
the header *as htslib reads it*: every definition regenerated in a plain form, each repair reported as a
warning. Records are then parsed by oxbow as on the fast path, so a record loads the same whichever path its
file took.
"""

from __future__ import annotations

import io
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

FIXED_COLUMNS = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]
INFO_TYPES = ("Integer", "Float", "Flag", "Character", "String")
FORMAT_TYPES = ("Integer", "Float", "Character", "String")
_NUMBER = re.compile(r"^(\d+|[ARG.])$")
# FORMAT keys the VCF specification reserves, with its definitions: an undeclared one is declared with these.
RESERVED_FORMATS = {
    "GT": ("1", "String"), "DP": ("1", "Integer"), "GQ": ("1", "Integer"), "AD": ("R", "Integer"),
    "FT": ("1", "String"), "PL": ("G", "Integer"), "GL": ("G", "Float"), "PS": ("1", "Integer"),
    "HQ": ("2", "Integer"), "MQ": ("1", "Integer"), "PQ": ("1", "Integer"), "EC": ("A", "Integer"),
}
# Key prefix of an undeclared FORMAT key's value in the `attributes` map (bcftools' own naming: FORMAT/XX).
FORMAT_PREFIX = "FORMAT/"


@dataclass(frozen=True)
class Definition:
    """One `##INFO` or `##FORMAT` definition as htslib keeps it (the first of duplicates)."""

    kind: str  # INFO | FORMAT
    id: str
    number: str
    type: str
    line: int  # 1-based line of the header


@dataclass(frozen=True)
class HeaderNote:
    """Something the tolerant path repaired in a header: stored as a per-file warning."""

    line: int
    warning: str


@dataclass
class VcfHeader:
    header_lines: int = 0
    samples: list[str] = field(default_factory=list)
    problem: str | None = None
    lines: list[str] = field(default_factory=list)  # the raw header lines, #CHROM line included
    info: dict[str, Definition] = field(default_factory=dict)
    formats: dict[str, Definition] = field(default_factory=dict)

    @property
    def table(self) -> str:
        # One row per sample and site needs samples; a sites-only VCF (ClinVar) is an annotation source.
        return "variants" if self.samples else "annotations"

    @property
    def n_columns(self) -> int:
        return 8 + (1 + len(self.samples) if self.samples else 0)


def open_text(path: Path):
    """The file as text (gzip / bgzip or plain), bytes that are not UTF-8 replaced by U+FFFD. A truncated gzip
    stream yields everything before the damage; `raise_if_truncated` then says so (a damaged one raises
    zlib.error)."""
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return io.TextIOWrapper(io.BufferedReader(_Gunzip(path), 1 << 16), encoding="utf-8", errors="replace",
                                newline="")
    return open(path, "rt", encoding="utf-8", errors="replace", newline="")


def raise_if_truncated(fh) -> None:
    """After reading `fh` (from `open_text`) to its end: EOFError when its gzip stream was cut short."""
    raw = getattr(getattr(fh, "buffer", None), "raw", None)
    if getattr(raw, "truncated", False):
        raise EOFError("the compressed stream ends before its end marker (truncated file?)")


class _Gunzip(io.RawIOBase):
    """gzip members one after another (bgzip is many), decompressed as far as the bytes allow. Python's gzip
    module drops the last buffered chunk when a stream ends early; this hands out every byte zlib produced
    before raising, so the records before the damage can still be loaded."""

    def __init__(self, path: Path):
        self._fh = open(path, "rb")
        self._z = zlib.decompressobj(wbits=31)
        self._out = b""
        self._fed = self._eof = self.truncated = False

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while not self._out:
            if self._eof:
                return 0  # raising here would make BufferedReader drop what it already holds
            chunk = self._fh.read(1 << 16)
            if not chunk:
                self._eof = True
                if self._fed and not self._z.eof:
                    self._out = self._z.flush()
                    self.truncated = True
                continue
            self._fed = True
            data = self._z.decompress(chunk)
            while self._z.eof and self._z.unused_data:  # the next gzip member
                rest = self._z.unused_data
                self._z = zlib.decompressobj(wbits=31)
                data += self._z.decompress(rest)
            self._out = data
        n = min(len(b), len(self._out))
        b[:n] = self._out[:n]
        self._out = self._out[n:]
        return n

    def close(self) -> None:
        self._fh.close()
        super().close()


def is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def read_header(path: Path) -> VcfHeader:
    """The header's lines, samples and INFO/FORMAT definitions, and what makes it unreadable (the whole file is
    quarantined then: htslib refuses these too)."""
    h = VcfHeader()
    with open_text(path) as fh:
        first = True
        for line in fh:
            line = line.rstrip("\r\n")
            if first:
                first = False
                if not line.startswith("##fileformat=VCF"):
                    h.problem = "invalid-vcf-header: first line is not ##fileformat=VCFv4.x"
                    return h
            if line.startswith("##"):
                h.header_lines += 1
                h.lines.append(line)
                _define(h, line, h.header_lines)
                continue
            if line.startswith("#"):
                h.header_lines += 1
                h.lines.append(line)
                cols = line.split("\t")
                if cols[:8] != FIXED_COLUMNS:
                    h.problem = "invalid-vcf-header: #CHROM line does not start with the 8 fixed VCF columns"
                elif len(cols) > 8 and (cols[8] != "FORMAT" or len(cols) == 9):
                    h.problem = "invalid-vcf-header: column 9 must be FORMAT followed by at least one sample"
                else:
                    h.samples = cols[9:]
                    if any(not s.strip() for s in h.samples):
                        h.problem = "invalid-vcf-header: empty sample name in the #CHROM line (stray tab?)"
                    elif len(set(h.samples)) != len(h.samples):
                        h.problem = "invalid-vcf-header: duplicate sample names in the #CHROM line"
                return h
            h.problem = "invalid-vcf-header: no #CHROM header line before the first record"
            return h
    h.problem = "invalid-vcf-header: no #CHROM header line"
    return h


def _define(h: VcfHeader, line: str, lineno: int) -> None:
    kind, fields = parse_structured(line)
    if kind not in ("INFO", "FORMAT") or fields is None or not fields.get("ID"):
        return
    target = h.info if kind == "INFO" else h.formats
    if fields["ID"] in target:
        return  # htslib keeps the first definition
    valid = INFO_TYPES if kind == "INFO" else FORMAT_TYPES
    type_ = fields.get("Type", "String")
    target[fields["ID"]] = Definition(kind, fields["ID"], fields.get("Number", "."),
                                      type_ if type_ in valid else "String", lineno)


def parse_structured(line: str) -> tuple[str, dict[str, str] | None]:
    """`##KEY=<A=1,B="x, \\"y\\"">` -> ("KEY", {"A": "1", "B": 'x, "y"'}); (KEY, None) for a line that is not
    a structured `<...>` line or cannot be parsed. Quoted values may hold commas, `>` and backslash escapes."""
    body = line[2:]
    key, sep, rest = body.partition("=")
    if not sep or not rest.startswith("<"):
        return key, None
    text = rest.rstrip()
    if not text.endswith(">"):
        return key, None
    text = text[1:-1]
    fields: dict[str, str] = {}
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " ,":
            i += 1
        j = text.find("=", i)
        if j < 0:
            return key, None
        name = text[i:j].strip()
        i = j + 1
        while i < n and text[i] == " ":
            i += 1
        if i < n and text[i] == '"':
            i += 1
            value = []
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                value.append(text[i])
                i += 1
            if i >= n:
                return key, None  # an unterminated quote
            i += 1
            fields.setdefault(name, "".join(value))
        else:
            j = text.find(",", i)
            j = n if j < 0 else j
            fields.setdefault(name, text[i:j].strip())
            i = j
    return key, fields


def _plain(text: str) -> str:
    """A Description oxbow reads whatever the version: no quotes, no backslashes."""
    return text.replace('"', "'").replace("\\", "/")


def repair(header: VcfHeader, undeclared_formats: set[str] = frozenset(),
           version: str | None = None) -> tuple[str, list[HeaderNote]]:
    """The header as htslib reads it, in a form oxbow accepts, and what was changed.

    Definitions (INFO, FORMAT, FILTER, contig, ALT) are regenerated from their parsed fields: the first of
    duplicated IDs kept, Descriptions without quotes or backslashes, an unknown Type read as String and an
    unknown Number as `.` (htslib's reading), a missing Description added. Other structured lines (SAMPLE,
    PEDIGREE, ...) are left out: nothing the lake stores comes from them. FORMAT keys the data uses but the
    header does not declare are declared (a reserved key with the specification's definition, any other as a
    String), so their values reach the lake."""
    notes: list[HeaderNote] = []
    out: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    for lineno, line in enumerate(header.lines, start=1):
        if lineno == 1:
            out.append(f"##fileformat={version}" if version else line)
            continue
        if not line.startswith("##"):
            continue  # the #CHROM line, added last
        kind, fields = parse_structured(line)
        if kind not in ("INFO", "FORMAT", "FILTER", "contig", "ALT"):
            if fields is None and "=" in line and not line[2:].partition("=")[2].startswith("<"):
                out.append(line)  # ##key=value
            elif fields is None:
                notes.append(HeaderNote(lineno, f"unparsed-header-line: {line[:80]!r} left out (htslib ignores it)"))
            continue
        if fields is None or not fields.get("ID"):
            notes.append(HeaderNote(lineno, f"unparsed-header-line: {line[:80]!r} left out (no readable ID)"))
            continue
        ident = fields["ID"]
        if (kind, ident) in seen:
            notes.append(HeaderNote(lineno, f"duplicate-header-id: {kind} {ident} is defined again; the first "
                                            f"definition (line {seen[(kind, ident)]}) is used, as htslib does"))
            continue
        seen[(kind, ident)] = lineno
        raw = line[2:].partition("=")[2]
        if "\\" in raw:
            notes.append(HeaderNote(lineno, f"escaped-quote-in-header: {kind} {ident} has backslash escapes in "
                                            f"its text (read as htslib reads them)"))
        out.append(_definition(kind, fields, lineno, notes))
    for key in sorted(undeclared_formats):
        number, type_ = RESERVED_FORMATS.get(key, ("1", "String"))
        out.append(f'##FORMAT=<ID={key},Number={number},Type={type_},Description="not declared in the file">')
    chrom = FIXED_COLUMNS + (["FORMAT", *header.samples] if header.samples else [])
    out.append("\t".join(chrom))
    return "\n".join(out) + "\n", notes


def _definition(kind: str, fields: dict[str, str], lineno: int, notes: list[HeaderNote]) -> str:
    ident = fields["ID"]
    desc = _plain(fields.get("Description", ""))
    if kind in ("FILTER", "ALT"):
        return f'##{kind}=<ID={ident},Description="{desc}">'
    if kind == "contig":
        length = fields.get("length", "")
        return f"##contig=<ID={ident}" + (f",length={length}" if length.isdigit() else "") + ">"
    valid = INFO_TYPES if kind == "INFO" else FORMAT_TYPES
    type_ = fields.get("Type", "")
    number = fields.get("Number", "")
    if type_ not in valid:
        notes.append(HeaderNote(lineno, f"invalid-header-type: {kind} {ident} Type={type_ or '(none)'} read as "
                                        f"String, as htslib does"))
        type_ = "String"
    if type_ == "Flag":
        number = "0"
    elif not _NUMBER.match(number):
        notes.append(HeaderNote(lineno, f"invalid-header-number: {kind} {ident} Number={number or '(none)'} "
                                        f"read as '.'"))
        number = "."
    if "Description" not in fields:
        notes.append(HeaderNote(lineno, f"missing-description: {kind} {ident} has no Description"))
    return f'##{kind}=<ID={ident},Number={number},Type={type_},Description="{desc}">'


def oxbow_refuses(header_text: str, with_samples: bool) -> str | None:
    """oxbow's complaint about this header (with no records), or None when it reads it."""
    import oxbow
    import pyarrow as pa

    try:
        src = oxbow.from_vcf(lambda: io.BytesIO(header_text.encode()), compression=None,
                             samples="*" if with_samples else None, samples_nested=True, info_fields=None)
        pa.RecordBatchReader.from_stream(src.scanner().scan(columns=src.columns)).read_all()
    except Exception as exc:  # noodles reports header problems as bare IO errors
        return first_line(exc)
    return None


def htslib_refuses(path: Path) -> str | None:
    """htslib's complaint about this file's header, or None when it reads it (records are not read)."""
    import pysam

    try:
        pysam.set_verbosity(0)  # htslib's own stderr warnings are not ours to print
        with pysam.VariantFile(str(path)) as vf:
            _ = vf.header
    except (OSError, ValueError) as exc:
        return first_line(exc)
    return None


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]
