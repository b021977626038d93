"""From the schema DuckDB infers for FHIR JSON to HealthLake's Athena view shape, as DuckDB type strings.

For each column we produce two types: the *read* type, handed to `read_json(columns=...)` with the source's
own (camelCase) names, and the *lake* type, the same tree with names lower-cased. A by-name `CAST` from one to
the other (DuckDB matches struct fields case-insensitively) does the renaming inside DuckDB's vectorized
engine, so no record ever passes through Python. Rules, applied at every depth:

- `extension` / `modifierExtension` stay JSON text (a list of JSON strings when repeated), as HealthLake does;
- FHIR primitives other than booleans, integers and decimals stay strings: DuckDB would otherwise turn ids into
  UUIDs, dates into DATE and instants into TIMESTAMP (dropping the time-zone offset the source carried);
- a field whose records disagree on its JSON type is kept as JSON text rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

from mmhealth.ingest.duck import ident

JSON_KEPT = frozenset({"extension", "modifierextension"})
_INTEGER = frozenset({"tinyint", "smallint", "integer", "bigint", "utinyint", "usmallint", "uinteger", "ubigint"})
_DECIMAL = frozenset({"float", "double", "decimal", "hugeint", "uhugeint"})


@dataclass(frozen=True)
class ColumnShape:
    source_name: str
    lake_name: str
    read_type: str
    lake_type: str


def _leaf(type_id: str) -> str:
    if type_id == "boolean":
        return "BOOLEAN"
    if type_id in _INTEGER:
        return "BIGINT"
    if type_id in _DECIMAL:
        return "DOUBLE"
    if type_id == "json":
        return "JSON"
    return "VARCHAR"


def _shape(name: str, t) -> tuple[str, str]:
    """(read type, lake type) for a field called `name` whose inferred DuckDB type is `t`."""
    if name.lower() in JSON_KEPT:
        return ("JSON[]", "JSON[]") if t.id == "list" else ("JSON", "JSON")
    if t.id == "list":
        read, lake = _shape("", t.children[0][1])
        return read + "[]", lake + "[]"
    if t.id == "struct":
        if not t.children:
            return "JSON", "JSON"
        reads, lakes = [], []
        for child_name, child_type in t.children:
            read, lake = _shape(child_name, child_type)
            reads.append(f"{ident(child_name)} {read}")
            lakes.append(f"{ident(child_name.lower())} {lake}")
        return f"STRUCT({', '.join(reads)})", f"STRUCT({', '.join(lakes)})"
    if t.id in ("map", "union"):
        return "JSON", "JSON"
    leaf = _leaf(t.id)
    return leaf, leaf


def shape_columns(names: list[str], types: list) -> list[ColumnShape]:
    """Column shapes for a relation DuckDB inferred from FHIR resources (names and DuckDBPyTypes)."""
    shapes = []
    for name, t in zip(names, types):
        read, lake = _shape(name, t)
        shapes.append(ColumnShape(name, name.lower(), read, lake))
    return shapes


def read_columns_literal(shapes: list[ColumnShape]) -> str:
    """The `columns={...}` argument of read_json."""
    items = ", ".join(f"'{s.source_name.replace(chr(39), chr(39) * 2)}': '{s.read_type.replace(chr(39), chr(39) * 2)}'" for s in shapes)
    return "{" + items + "}"


def select_list(shapes: list[ColumnShape]) -> str:
    """The SELECT list that renames every level to lower case."""
    parts = []
    for s in shapes:
        if s.read_type == s.lake_type and s.source_name == s.lake_name:
            parts.append(ident(s.source_name))
        elif s.read_type == s.lake_type:
            parts.append(f"{ident(s.source_name)} AS {ident(s.lake_name)}")
        else:
            parts.append(f"CAST({ident(s.source_name)} AS {s.lake_type}) AS {ident(s.lake_name)}")
    return ", ".join(parts)
