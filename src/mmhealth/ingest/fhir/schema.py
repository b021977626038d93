"""From the schema DuckDB infers for FHIR JSON to HealthLake's Athena view shape, as DuckDB type strings.

For each column we produce two types: the *read* type, handed to `read_json(columns=...)` with the source's
own (camelCase) names, and the *lake* type, the same tree with names lower-cased. A by-name `CAST` from one to
the other (DuckDB matches struct fields case-insensitively) does the renaming inside DuckDB's vectorized
engine, so no record ever passes through Python. Rules, applied at every depth:

- `extension` / `modifierExtension` stay JSON text (a list of JSON strings when repeated), as HealthLake does;
- FHIR primitives other than booleans, integers and decimals stay strings: DuckDB would otherwise turn ids into
  UUIDs, dates into DATE and instants into TIMESTAMP (dropping the time-zone offset the source carried);
- a field whose records disagree on its JSON type is kept as JSON text rather than guessed;
- below `TYPED_DEPTH` levels of nesting, what remains of a resource is kept as JSON text: Parquet readers
  refuse deeper schemas (pyarrow stops at 100 levels, and every list costs two), and no real resource needs
  them (Synthea's deepest is 8 levels; a QuestionnaireResponse's nested items are what gets this deep).

Two top-level columns get a guard rather than a plain copy: `id` is read as JSON and kept only when it is a
non-empty JSON string (a number is not a FHIR id), and keys that take a lineage column's name (`lake_source`,
`lake_run`, anything starting `lake_`) are read but never stored - their presence voids the row's `id`, which
sends the record to the quarantine instead of letting it overwrite the lake's lineage.
"""

from __future__ import annotations

from dataclasses import dataclass

from mmhealth.ingest.duck import ident

JSON_KEPT = frozenset({"extension", "modifierextension"})
# Levels of nesting (objects and arrays, the resource itself being level 1) that get struct/list types; deeper
# values are JSON text. Passed to DuckDB's inference as `maximum_depth`.
TYPED_DEPTH = 32
# Top-level input keys with this prefix would collide with the lake's lineage columns.
RESERVED_PREFIX = "lake_"
_INTEGER = frozenset({"tinyint", "smallint", "integer", "bigint", "utinyint", "usmallint", "uinteger", "ubigint"})
_DECIMAL = frozenset({"float", "double", "decimal", "hugeint", "uhugeint"})


@dataclass(frozen=True)
class ColumnShape:
    source_name: str
    lake_name: str
    read_type: str
    lake_type: str
    reserved: bool = False  # an input key named like a lineage column: read to detect it, never stored


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
    if str(t) == "JSON":  # DuckDB's JSON type reports the id of its storage, "varchar"
        return "JSON", "JSON"
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
        if name.lower().startswith(RESERVED_PREFIX):
            shapes.append(ColumnShape(name, name.lower(), "JSON", "JSON", reserved=True))
        elif name == "id":
            shapes.append(ColumnShape(name, name, "JSON", "VARCHAR"))
        else:
            read, lake = _shape(name, t)
            shapes.append(ColumnShape(name, name.lower(), read, lake))
    return shapes


def lineage_shapes() -> list[ColumnShape]:
    """The lineage columns the spool writes into each record (read back as the lake stores them)."""
    return [ColumnShape("lake_source", "lake_source", "VARCHAR", "VARCHAR"),
            ColumnShape("lake_position", "lake_position", "BIGINT", "BIGINT")]


def _id_expression(shapes: list[ColumnShape]) -> str:
    """`id` when it is a non-empty JSON string and no reserved key is present; else NULL (the row is bad)."""
    conditions = ["json_type(\"id\") = 'VARCHAR'", "(\"id\"->>'$') <> ''"]
    conditions += [f"{ident(s.source_name)} IS NULL" for s in shapes if s.reserved]
    return f"CASE WHEN {' AND '.join(conditions)} THEN \"id\"->>'$' END AS \"id\""


def read_columns_literal(shapes: list[ColumnShape]) -> str:
    """The `columns={...}` argument of read_json."""
    items = ", ".join(f"'{s.source_name.replace(chr(39), chr(39) * 2)}': '{s.read_type.replace(chr(39), chr(39) * 2)}'" for s in shapes)
    return "{" + items + "}"


def select_list(shapes: list[ColumnShape]) -> str:
    """The SELECT list that renames every level to lower case."""
    parts = []
    for s in shapes:
        if s.reserved:
            continue
        if s.source_name == "id" and s.read_type == "JSON":
            parts.append(_id_expression(shapes))
        elif s.read_type == s.lake_type and s.source_name == s.lake_name:
            parts.append(ident(s.source_name))
        elif s.read_type == s.lake_type:
            parts.append(f"{ident(s.source_name)} AS {ident(s.lake_name)}")
        else:
            parts.append(f"CAST({ident(s.source_name)} AS {s.lake_type}) AS {ident(s.lake_name)}")
    return ", ".join(parts)
