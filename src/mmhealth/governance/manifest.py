"""The dbt manifest as governance sees it: which tables exist, their columns, types and classifications.

The classification of a column lives once, in the model's YAML (`meta.sensitivity`); dbt copies it into
`target/manifest.json`, and everything here reads it from there."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from mmhealth.errors import MMHealthError


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str | None
    sensitivity: str | None

    @property
    def is_complex(self) -> bool:
        """Arrays, maps (and structs holding them): Lake Formation row filters cannot reference these."""
        t = (self.data_type or "").lower().replace(" ", "")
        return t.startswith(("array", "map", "struct", "row(")) or t.endswith("[]") or "map(" in t


@dataclass
class Table:
    database: str  # the Glue database it lands in
    name: str
    dbt_schema: str
    relation: str  # how to address it in the local DuckDB warehouse
    unique_id: str
    columns: dict[str, Column] = field(default_factory=dict)
    meta: dict = field(default_factory=dict)
    source_file: str = ""  # the YAML (or SQL) file that declares the model, for messages
    dbt_fqn: tuple[str, ...] = ()  # dbt's node path (project, folders..., model): where dbt_project.yml configures it

    @property
    def fqn(self) -> str:
        return f"{self.database}.{self.name}"


@dataclass
class Catalog:
    tables: dict[str, Table]  # "db.table" -> Table
    source: str

    def get(self, fqn: str) -> Table | None:
        return self.tables.get(fqn)

    def in_database(self, database: str) -> list[Table]:
        return [t for t in self.tables.values() if t.database == database]


def read_manifest(path: str | Path) -> dict:
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError as exc:
        raise MMHealthError(
            f"{path}: dbt manifest not found - run `dbt parse` (DBT_PROFILES_DIR=.) or pass --manifest"
        ) from exc
    except json.JSONDecodeError as exc:
        raise MMHealthError(f"{path}: not valid JSON at line {exc.lineno} - run `dbt parse` again") from exc


def catalog_from_manifest(manifest: dict, schema_to_database: dict[str, str], meta_key: str, source: str) -> Catalog:
    """Models whose schema maps to a governed database. `schema_to_database` maps each dbt schema (either the
    configured custom schema or the resolved one, e.g. `marts` or `main_marts`) to a Glue database name."""
    tables: dict[str, Table] = {}
    for uid, node in manifest.get("nodes", {}).items():
        if node.get("resource_type") != "model":
            continue
        config = node.get("config") or {}
        schema = node.get("schema")
        database = schema_to_database.get(schema) or schema_to_database.get(config.get("schema") or "")
        if database is None:
            continue
        name = node.get("alias") or node["name"]
        meta = {**(node.get("meta") or {}), **(config.get("meta") or {})}
        columns = {}
        for cname, col in (node.get("columns") or {}).items():
            cmeta = {**(col.get("meta") or {}), **((col.get("config") or {}).get("meta") or {})}
            columns[cname] = Column(cname, col.get("data_type"), cmeta.get(meta_key))
        relation = node.get("relation_name") or f'"{schema}"."{name}"'
        patch = (node.get("patch_path") or "").split("://", 1)[-1]
        source_file = patch or node.get("original_file_path") or source
        tables[f"{database}.{name}"] = Table(database, name, schema, relation, uid, columns, meta, source_file,
                                              tuple(node.get("fqn") or (node["name"],)))
    return Catalog(tables=tables, source=source)
