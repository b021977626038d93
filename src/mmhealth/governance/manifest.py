"""The dbt manifest as governance sees it: which tables exist, their columns, types and classifications.

The classification of a column lives once, in the model's YAML (`meta.sensitivity`); dbt copies it into
`target/manifest.json`, and everything here reads it from there through `mmhealth.manifest`, the reader every
stage shares (one merge rule for `meta` / `config.meta`, one sensitivity ladder)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mmhealth.manifest import parse_manifest, read_manifest_json


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
    """manifest.json as dbt wrote it (mmhealth.manifest; one-line error when missing or broken)."""
    return read_manifest_json(path)


def catalog_from_manifest(manifest: dict, schema_to_database: dict[str, str], meta_key: str, source: str) -> Catalog:
    """Models whose schema maps to a governed database. `schema_to_database` maps each dbt schema (either the
    configured custom schema or the resolved one, e.g. `marts` or `main_marts`) to a Glue database name. Models,
    columns and their `meta` come from the shared reader (mmhealth.manifest: `config.meta` wins per key)."""
    tables: dict[str, Table] = {}
    for model in parse_manifest(manifest, Path(source)):
        database = schema_to_database.get(model.schema) or schema_to_database.get(model.configured_schema or "")
        if database is None:
            continue
        columns = {c.name: Column(c.name, c.data_type, c.classification(meta_key)) for c in model.columns}
        relation = model.relation_name or f'"{model.schema}"."{model.alias}"'
        tables[f"{database}.{model.alias}"] = Table(database, model.alias, model.schema, relation, model.unique_id,
                                                    columns, dict(model.meta), model.yaml_path or source, model.fqn)
    return Catalog(tables=tables, source=source)
