"""The dbt models the dashboards read, as the dbt manifest describes them.

Column types come from the manifest (marts have enforced contracts, so every column states its `data_type`);
that is what the QuickSight physical tables declare, so a data set always matches the table dbt built.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from mmhealth.errors import MMHealthError

SENSITIVITY_ORDER = ("public", "internal", "phi")


@dataclass(frozen=True)
class ModelColumn:
    name: str
    data_type: str | None
    description: str
    sensitivity: str | None


@dataclass(frozen=True)
class Model:
    name: str
    database: str | None  # dbt "database": the DuckDB catalog locally, the Glue catalog on Athena
    schema: str  # resolved schema: the Athena (Glue) database on Athena
    alias: str  # the table name
    relation_name: str | None
    description: str
    columns: tuple[ModelColumn, ...]
    path: str  # the model's SQL file, for error messages

    def column(self, name: str) -> ModelColumn | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def column_names(self) -> set[str]:
        return {c.name for c in self.columns}


@dataclass(frozen=True)
class Manifest:
    path: Path
    models: dict[str, Model]
    adapter_type: str | None

    def model(self, name: str) -> Model:
        try:
            return self.models[name]
        except KeyError:
            raise MMHealthError(
                f"{self.path}: dbt model '{name}' not in the manifest - run `dbt parse` (DBT_PROFILES_DIR=.) "
                "after pulling the models, or pass the right --manifest"
            ) from None


def load_manifest(path: str | Path) -> Manifest:
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MMHealthError(
            f"{path}: dbt manifest not found - run `dbt parse` (DBT_PROFILES_DIR=.; for Athena "
            "`dbt parse --target athena --target-path target/athena`) or pass --manifest"
        ) from None
    except json.JSONDecodeError as exc:
        raise MMHealthError(f"{path}: not valid JSON (line {exc.lineno}) - run `dbt parse` again") from None
    return parse_manifest(raw, path)


def parse_manifest(raw: dict, path: Path) -> Manifest:
    models: dict[str, Model] = {}
    for node in raw.get("nodes", {}).values():
        if node.get("resource_type") != "model":
            continue
        columns = tuple(
            ModelColumn(
                name=c["name"],
                data_type=c.get("data_type"),
                description=c.get("description") or "",
                sensitivity=((c.get("meta") or {}).get("sensitivity") or (c.get("config") or {}).get("meta", {}).get("sensitivity")),
            )
            for c in (node.get("columns") or {}).values()
        )
        models[node["name"]] = Model(
            name=node["name"],
            database=node.get("database"),
            schema=node.get("schema") or "",
            alias=node.get("alias") or node["name"],
            relation_name=node.get("relation_name"),
            description=node.get("description") or "",
            columns=columns,
            path=node.get("original_file_path") or node.get("path") or "",
        )
    adapter = (raw.get("metadata") or {}).get("adapter_type")
    return Manifest(path=path, models=models, adapter_type=adapter)


# QuickSight InputColumn types for the SQL types DuckDB and Athena (Trino) models declare.
_TYPE_RULES: tuple[tuple[str, str], ...] = (
    (r"^(varchar|char|string|text|uuid|enum)", "STRING"),
    (r"^(tinyint|smallint|int|integer|bigint|hugeint|ubigint|uinteger|usmallint|utinyint|int\d)\b", "INTEGER"),
    (r"^(double|float|real|decimal|numeric)", "DECIMAL"),
    (r"^(date|timestamp|datetime|time)", "DATETIME"),
    (r"^(boolean|bool)\b", "BOOLEAN"),
    (r"^(json)\b", "JSON"),
)
_COMPLEX = re.compile(r"^(array|map|struct|row)\b|\[\]$")


def quicksight_type(data_type: str | None) -> str | None:
    """The QuickSight InputColumn type for a dbt data_type, or None for nested types QuickSight cannot read
    (arrays, maps, structs): those columns are left out of the data set."""
    t = (data_type or "").strip().lower()
    if not t:
        raise ValueError("no data_type")
    if _COMPLEX.search(t):
        return None
    for pattern, qs_type in _TYPE_RULES:
        if re.match(pattern, t):
            return qs_type
    raise ValueError(f"unknown data_type {data_type!r}")


def sensitivity_rank(level: str | None) -> int:
    """Unclassified columns rank as PHI: what nobody classified is treated as the most sensitive."""
    if level in SENSITIVITY_ORDER:
        return SENSITIVITY_ORDER.index(level)
    return len(SENSITIVITY_ORDER) - 1
