"""Records every source-format reader hands to the lake.

They live in `ingest/` (not `lake/`) because readers produce them and a stage never imports a later one:
`lake` imports these, `ingest` never imports `lake`. See `mmhealth.lake` for how they are consumed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Protocol, Union

from mmhealth.errors import MMHealthError

if TYPE_CHECKING:  # pyarrow is heavy; readers import it lazily
    import pyarrow as pa

# Every lake table carries the relative path of the source file a row came from. The lake uses it to replace
# the rows of a changed file; analysts use it for lineage. Readers that write their own Parquet must add it.
SOURCE_COLUMN = "lake_source"
# The record's ordinal in its source file, where a reader needs it to order copies of one record (FHIR).
POSITION_COLUMN = "lake_position"
# Columns the lake and its readers add to every row (`lake_run` is the Hive partition of each part). Input keys
# never take these names: a reader refuses input that would.
LINEAGE_COLUMNS = frozenset({SOURCE_COLUMN, "lake_run", POSITION_COLUMN})
# Raw excerpts in the quarantine are cut to this many characters.
EXCERPT_LIMIT = 1024


def file_checksum(path: Path) -> str:
    """A source file's identity in the manifest and `lake_meta.ingest_log`: the sha256 of its bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


@dataclass(frozen=True)
class SourceFile:
    """One input file. `rel` is its path relative to the ingest SOURCE root, with forward slashes; it is the
    file's identity in `lake_meta.ingest_log` and in the `lake_source` column."""

    path: Path
    rel: str
    size: int
    # sha256 of the bytes (`file_checksum`). None for a new file given to a reader that `reports_checksums`: it
    # hashes the file as it reads it and hands the checksum back in its FileDone (one read of the file, not two).
    checksum: str | None
    # For a file in `ctx.unchanged`: the group its reader named when it last read it (FileDone.group); None when
    # none was recorded (a reader without groups, or a lake written before groups were kept).
    group: str | None = None


@dataclass(frozen=True)
class Quarantined:
    """A record (or a whole file) that could not be loaded. `position` says where: `line 12`, `entry 3`,
    `record 7`, `byte 1024`, or `file`. `reason` starts with a stable kind (`malformed-json: ...`,
    `missing-id`, `ref-mismatch: ...`) so tests and dashboards can group by it."""

    source: str
    position: str
    modality: str
    reason: str
    raw: str = ""

    def __post_init__(self) -> None:
        if len(self.raw) > EXCERPT_LIMIT:
            object.__setattr__(self, "raw", self.raw[:EXCERPT_LIMIT])


@dataclass(frozen=True)
class Skipped:
    """Input that is deliberately not loaded and not an error (e.g. `log.ndjson`, an OperationOutcome line in
    a bulk export, a DICOMDIR, a duplicate DICOM instance). Counted in the run summary and stored in
    `lake_meta.skipped` (file, position, reason), never in the quarantine. `reason` starts with a stable kind."""

    source: str
    position: str
    reason: str
    count: int = 1


@dataclass(frozen=True)
class Note:
    """Something the run summary must name that is not a file's fate, e.g. an image set that loaded without
    radiomic features and why. Shown in the summary (and its JSON); the data it describes is in the tables."""

    source: str
    subject: str
    message: str


@dataclass
class TableBatch:
    """Rows for one lake table from one source file. The lake adds the `lake_source` column, writes zstd
    Parquet into the run's staging area and merges the schema of successive batches by name."""

    database: str
    table: str
    source: str
    data: "pa.Table | pa.RecordBatch"


@dataclass(frozen=True)
class ParquetPart:
    """A Parquet file the reader wrote itself (the fast path: e.g. DuckDB `COPY ... TO`) at a path it got from
    `ReadContext.part_path(database, table)`. It must hold the `lake_source` column. `sources` lists the
    source files whose rows it contains."""

    database: str
    table: str
    path: Path
    rows: int
    sources: tuple[str, ...]


@dataclass(frozen=True)
class FileDone:
    """Closes one source file: its record counts, which must satisfy read = loaded + quarantined + skipped.
    A file is committed to `lake_meta.ingest_log` only after its FileDone and only when the run commits."""

    source: str
    read: int
    loaded: int
    quarantined: int
    skipped: int
    # Files a reader must read together when one of them changes (imaging: a study's instances, "" for a file
    # without a header). Kept in the manifest, so a later run finds a changed group's other files without reading
    # every unchanged file to learn which group it is in.
    group: str | None = None
    # The file's `file_checksum`, taken by the reader from the bytes it read; required for a file whose SourceFile
    # came without one (a reader that `reports_checksums`), None otherwise.
    checksum: str | None = None


def hashed_as_read(f: SourceFile, outputs: "Iterator[Output]") -> "Iterator[Output]":
    """A reader's outputs for one file, its FileDone carrying the file's checksum when the lake left it to the
    reader (`reports_checksums`). The file is hashed right before the reader opens it, so the reader's own read
    finds its bytes in the page cache: one read from disk, not the lake's hashing pass and then the reader's."""
    checksum = file_checksum(f.path) if f.checksum is None else None
    for out in outputs:
        if checksum is not None and isinstance(out, FileDone) and out.source == f.rel:
            out = replace(out, checksum=checksum)
        yield out


@dataclass(frozen=True)
class FileGroup:
    """The group (see FileDone.group) of an unchanged file a reader opened only to learn it: the manifest records
    it, the file's rows stay as they are. Lets a lake written before groups were kept learn them once."""

    source: str
    group: str


Output = Union[TableBatch, ParquetPart, Quarantined, Skipped, Note, FileDone, FileGroup]

# Input a reader loaded but had to tolerate (a key the header does not declare, a header repaired as htslib
# reads it, ...): rows of `lake_meta.warnings`, one per source file and kind, yielded as a TableBatch built by
# `warnings_batch`. Like every table, its rows are replaced when the file is read again. (`lake/meta.py` lists it
# with the other lake_meta tables, so its view exists before any warning.) Column -> DuckDB type.
WARNINGS_TABLE = ("lake_meta", "warnings")
WARNING_COLUMNS = {
    SOURCE_COLUMN: "VARCHAR",
    "position": "VARCHAR",  # where it was first seen: `line N`, or `file`
    "modality": "VARCHAR",
    "warning": "VARCHAR",  # a stable kind, then the detail: `undeclared-info-key: XX ...`
    "records": "BIGINT",  # records it concerns (NULL for a header matter)
}


def warnings_batch(source: str, modality: str, rows: list[tuple[str, str, int | None]]) -> TableBatch:
    """`lake_meta.warnings` rows of one source file from (position, warning, records) tuples."""
    import pyarrow as pa

    types = {"VARCHAR": pa.string(), "BIGINT": pa.int64()}
    schema = pa.schema([(name, types[t]) for name, t in WARNING_COLUMNS.items()])
    data = pa.Table.from_pylist(
        [{SOURCE_COLUMN: source, "position": p, "modality": modality, "warning": w, "records": n} for p, w, n in rows],
        schema=schema)
    return TableBatch(*WARNINGS_TABLE, source, data)


REPROCESS = (None, "quarantined", "all")  # --reprocess: which unchanged files are read again (None: none)


@dataclass(frozen=True)
class IngestOptions:
    """What one ingest run is asked for beyond SOURCE and LAKE, typed (the CLI's flags and the test knobs).
    The lake reads `reprocess` and `source_moved`; each reader reads its own from `ctx.options`."""

    reference: Path | None = None  # genomics: FASTA to check REF alleles against
    segmenter: str | None = None  # imaging: name or module:function (None: the default segmenter)
    workers: int | None = None  # imaging, genomics: processes for headers and radiomics, and for VCFs (None: one
    # per core)
    radiomics: bool = True  # imaging: compute radiomic features (off: metadata only)
    progress: bool | None = None  # imaging: its own per-image-set bar (None: when the lake shows one)
    fhir_schema_sample: int | None = None  # fhir: records the schema is inferred from (None: the reader's
    # default; 0: every record)
    duckdb_memory: str = "1GB"  # fhir: DuckDB memory limit before it spills to the staging folder
    reprocess: str | None = None  # lake: re-read unchanged files too (REPROCESS)
    source_moved: bool = False  # lake: SOURCE is the folder the lake was built from, moved or mounted elsewhere

    @classmethod
    def of(cls, given: "IngestOptions | Mapping[str, Any] | None") -> "IngestOptions":
        """Options from a mapping (the Python entry point's `options`), refusing names no part of the run reads:
        a misspelt option would otherwise be ignored without a word."""
        if isinstance(given, cls):
            return given
        given = dict(given or {})
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise MMHealthError(f"ingest options: unknown {', '.join(unknown)} - known: {', '.join(known)}")
        options = cls(**given)
        if options.reprocess not in REPROCESS:
            raise MMHealthError(f"--reprocess {options.reprocess}: choose from "
                                f"{', '.join(filter(None, REPROCESS))}")
        return options


@dataclass
class ReadContext:
    """What the lake gives a reader for one run of one modality."""

    run_id: str
    staging_dir: Path
    options: IngestOptions = field(default_factory=IngestOptions)  # a mapping is taken too (IngestOptions.of)
    unchanged: list[SourceFile] = field(default_factory=list)  # files already in the lake, not re-read
    progress: "object | None" = None  # a tqdm-like object; readers call progress.update(bytes_done)
    _parts: int = 0

    def __post_init__(self):
        self.options = IngestOptions.of(self.options)

    def part_path(self, database: str, table: str) -> Path:
        """A fresh path for a Parquet part in this run's staging area."""
        self._parts += 1
        folder = self.staging_dir / database / table
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"part-{self.run_id}-{self._parts:05d}.parquet"


class ModalityReader(Protocol):
    """The contract between the `ingest` command (in `mmhealth.lake`) and one modality's reader."""

    name: str  # "fhir", "genomics", "imaging": the value of --modality
    # Optional `reports_checksums = True`: the reader hashes every file it gets without a checksum as it reads it
    # and reports it in that file's FileDone, so the lake need not read a new file once more just to hash it.

    def discover(self, root: Path) -> Iterator[Path]:
        """Files under `root` this modality reads (the lake walks nothing itself)."""
        ...

    def read(self, files: list[SourceFile], ctx: ReadContext) -> Iterator[Output]:
        """Read new or changed files and yield outputs; never raise for bad input (quarantine it)."""
        ...
