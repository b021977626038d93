"""The lake's committed state. Replacing `_lake/manifest.json` in one step is what commits a run."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

MANIFEST_KEY = "_lake/manifest.json"
VERSION = 1


@dataclass
class Part:
    key: str  # path relative to the lake root: <db>/<table>/lake_run=<run>/part-....parquet
    rows: int
    run: str
    sources: list[str]
    # Fingerprint of the part's exact Parquet schema (mmhealth.lake.schema.schema_of_parquet); "" in manifests
    # written before it was recorded, which read their tables with union_by_name.
    schema: str = ""


@dataclass
class FileEntry:
    modality: str
    checksum: str
    size: int
    mtime_ns: int
    run: str
    # The folder given as SOURCE when the file was last seen (resolved); "" in manifests written before it was
    # recorded. A file's identity is its path inside SOURCE, so the same path under another folder is checked.
    origin: str = ""
    # The reader's FileDone.group when it last read the file (None: not recorded); handed back in ctx.unchanged.
    group: str | None = None


@dataclass
class Manifest:
    tables: dict[str, list[Part]] = field(default_factory=dict)  # "db.table" -> parts
    files: dict[str, FileEntry] = field(default_factory=dict)  # source rel path -> entry
    runs: list[str] = field(default_factory=list)
    # "db.table" -> merged column tree (see mmhealth.lake.schema), for Glue and for readers of the manifest
    schemas: dict[str, list] = field(default_factory=dict)

    def to_json(self) -> str:
        doc = {
            "version": VERSION,
            "runs": self.runs,
            "tables": {t: [asdict(p) for p in parts] for t, parts in sorted(self.tables.items())},
            "files": {f: asdict(e) for f, e in sorted(self.files.items())},
            "schemas": dict(sorted(self.schemas.items())),
        }
        return json.dumps(doc, separators=(",", ":"))  # compact: 476 MB with indent at 100,000 patients, 18 s to write

    @classmethod
    def from_json(cls, text: str) -> "Manifest":
        doc = json.loads(text)
        return cls(
            tables={t: [Part(**p) for p in parts] for t, parts in doc.get("tables", {}).items()},
            files={f: FileEntry(**e) for f, e in doc.get("files", {}).items()},
            runs=list(doc.get("runs", [])),
            schemas=doc.get("schemas", {}),
        )

    def keys(self) -> set[str]:
        return {p.key for parts in self.tables.values() for p in parts}

    def table_rows(self) -> dict[str, int]:
        return {t: sum(p.rows for p in parts) for t, parts in sorted(self.tables.items())}
