"""What the compiler knows about a resource's shape: which elements exist, which repeat, which are primitives.

Two sources answer the same questions:

- `LakeSchema`: the lake's own tables (the types DuckDB reports for `healthlake.<type>`). An element the lake
  lacks is *absent*: the compiler treats it as the empty collection, so a view over a lake without a field still
  compiles (and that part of it is statically empty).
- `FhirModel`: the FHIR R4 element table (`fhir_r4.json`), for dbt models compiled before any lake is seen. Its
  elements are *maybe present*: the compiled model asks the catalog at dbt run time and reads either the column or
  a typed null (see `mmhealth.views.dbt`). Elements the model does not know are absent.

Both expose `Shape` nodes; the compiler never looks at where a node came from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources as _res

# FHIR primitives as the lake stores them (mmhealth.ingest.fhir.schema): booleans, integers and decimals typed,
# everything else a string exactly as sent.
PRIM_SQL = {"boolean": "boolean", "integer": "bigint", "decimal": "double"}
JSON_ELEMENTS = frozenset({"extension", "modifierextension"})
# Every lake table's lineage columns (mmhealth.lake): a view may read them like elements (`lake_run`).
LAKE_COLUMNS = frozenset({"lake_run", "lake_source"})


@dataclass(frozen=True)
class SqlType:
    """A SQL type, engine-neutral: rendered by a Dialect."""

    kind: str  # 'prim' | 'struct' | 'list' | 'json'
    prim: str = "varchar"  # for 'prim': varchar | bigint | double | boolean | integer | date | timestamp
    fields: tuple[tuple[str, "SqlType"], ...] = ()
    elem: "SqlType | None" = None

    @staticmethod
    def of(prim: str) -> "SqlType":
        return SqlType("prim", prim)

    def list_of(self) -> "SqlType":
        return SqlType("list", elem=self)


VARCHAR = SqlType.of("varchar")
JSON = SqlType("json")


class Shape:
    """One element (or the resource root) as the compiler sees it."""

    path: tuple[str, ...]  # lake (lower-case) names from the resource root
    is_list: bool  # the element repeats (its SQL value is a list)
    kind: str  # 'struct' | 'prim' | 'json'
    prim: str  # for 'prim': boolean | integer | decimal | string | date | dateTime | time | instant
    present: bool | None  # True: in the lake; None: decided when the dbt model runs
    fhir_type: str | None  # the FHIR type name when known

    def child(self, name: str) -> "Shape | None":
        raise NotImplementedError

    def element_sql_type(self) -> SqlType:
        """SQL type of one element (a list's item), restricted to what was read below it (for typed nulls)."""
        raise NotImplementedError

    def sql_type(self) -> SqlType:
        t = self.element_sql_type()
        return t.list_of() if self.is_list else t

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


# --- the lake ------------------------------------------------------------------------------------------------


def sql_type_from_duckdb(t) -> SqlType:
    """SqlType from a DuckDBPyType."""
    tid = t.id
    if tid == "list":
        return SqlType("list", elem=sql_type_from_duckdb(t.child))
    if tid == "struct":
        return SqlType("struct", fields=tuple((n, sql_type_from_duckdb(c)) for n, c in t.children))
    if str(t) == "JSON":
        return JSON
    prim = {"bigint": "bigint", "integer": "bigint", "smallint": "bigint", "tinyint": "bigint", "hugeint": "bigint",
            "ubigint": "bigint", "uinteger": "bigint", "double": "double", "float": "double", "decimal": "double",
            "boolean": "boolean"}.get(tid, "varchar")
    return SqlType.of(prim)


def _prim_kind(t: SqlType) -> str:
    return {"boolean": "boolean", "bigint": "integer", "double": "decimal"}.get(t.prim, "string")


@dataclass(eq=False)
class LakeShape(Shape):
    path: tuple[str, ...]
    type: SqlType  # the element's own type (a list's item type when is_list)
    is_list: bool = False
    present: bool | None = True
    model: "ModelShape | None" = None  # the same element in the FHIR model, when it knows it (for FHIR type names)

    @property
    def fhir_type(self) -> str | None:  # type: ignore[override]
        return self.model.fhir_type if self.model is not None else None

    @property
    def kind(self) -> str:  # type: ignore[override]
        return {"struct": "struct", "json": "json"}.get(self.type.kind, "prim")

    @property
    def prim(self) -> str:  # type: ignore[override]
        if self.type.kind != "prim":
            return ""
        kind = _prim_kind(self.type)
        if kind == "string" and self.fhir_type in ("date", "dateTime", "instant", "time"):
            return self.fhir_type  # stored as text, compared and bounded as what FHIR says it is
        return kind

    def child(self, name: str) -> "LakeShape | None":
        if self.type.kind != "struct":
            return None
        want = name.lower()
        for n, t in self.type.fields:
            if n.lower() == want:
                model = self.model.child(name) if self.model is not None else None
                if t.kind == "list":
                    return LakeShape(self.path + (n,), t.elem or VARCHAR, True, model=model)
                return LakeShape(self.path + (n,), t, False, model=model)
        return None

    def element_sql_type(self) -> SqlType:
        return self.type


class LakeSchema:
    """Shapes of the resource tables in a local lake (DuckDB types of `healthlake.<type>`)."""

    def __init__(self, tables: dict[str, SqlType]):
        self.tables = tables  # lower-case resource type -> row struct

    @classmethod
    def from_connection(cls, con, schema: str = "healthlake") -> "LakeSchema":
        tables: dict[str, SqlType] = {}
        names = [r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = ?", [schema]).fetchall()]
        for name in names:
            rel = con.sql(f'select * from "{schema}"."{name}" limit 0')
            tables[name.lower()] = SqlType("struct", fields=tuple(
                (c, sql_type_from_duckdb(t)) for c, t in zip(rel.columns, rel.types)))
        return cls(tables)

    def root(self, resource: str) -> Shape | None:
        t = self.tables.get(resource.lower())
        if t is None:
            return None
        model = FhirModelSchema().root(resource)
        return LakeShape((), t, model=model if isinstance(model, ModelShape) else None)

    def columns(self, resource: str) -> set[str]:
        t = self.tables.get(resource.lower())
        return {n.lower() for n, _ in t.fields} if t else set()


# --- the FHIR R4 model ---------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def fhir_model() -> dict:
    return json.loads(_res.files("mmhealth.views").joinpath("fhir_r4.json").read_text())


def _parse_spec(spec: str) -> tuple[str, bool, str]:
    choice = ""
    if "@" in spec:
        spec, choice = spec.split("@", 1)
    is_list = spec.endswith("*")
    return spec.rstrip("*"), is_list, choice


_MODEL_PRIMS = {"boolean", "integer", "decimal", "string", "date", "dateTime", "instant", "time"}


@dataclass(eq=False)
class ModelShape(Shape):
    path: tuple[str, ...]
    fhir_type: str | None
    is_list: bool = False
    present: bool | None = None
    children: dict[str, "ModelShape"] = field(default_factory=dict)  # read so far (for typed nulls)

    @property
    def kind(self) -> str:  # type: ignore[override]
        if self.fhir_type == "Extension" and self.path and self.path[-1] in JSON_ELEMENTS:
            return "json"
        return "prim" if self.fhir_type in _MODEL_PRIMS else "struct"

    @property
    def prim(self) -> str:  # type: ignore[override]
        return self.fhir_type if self.kind == "prim" else ""

    def child(self, name: str) -> "ModelShape | None":
        if self.kind != "struct":
            return None
        if not self.path and name.lower() in LAKE_COLUMNS:  # the lake's own lineage columns, read like elements
            key = name.lower()
            if key not in self.children:
                self.children[key] = ModelShape((key,), "string", False)
            return self.children[key]
        elements = fhir_model()["types"].get(self.fhir_type or "", {})
        spec = elements.get(name)
        if spec is None:  # FHIRPath is case-sensitive, the lake is not: accept the lake's spelling too
            spec = next((v for k, v in elements.items() if k.lower() == name.lower()), None)
            if spec is None:
                return None
        key = name.lower()
        if key not in self.children:
            tname, is_list, _choice = _parse_spec(spec)
            self.children[key] = ModelShape(self.path + (key,), tname, is_list)
        return self.children[key]

    def element_sql_type(self) -> SqlType:
        k = self.kind
        if k == "json":
            return JSON
        if k == "prim":
            return SqlType.of(PRIM_SQL.get(self.fhir_type or "", "varchar"))
        fields = tuple((n, c.sql_type()) for n, c in sorted(self.children.items()))
        if not fields:  # nothing read below it: the struct only needs to exist
            fields = (("id", VARCHAR),)
        return SqlType("struct", fields=fields)


class FhirModelSchema:
    """Shapes from the FHIR R4 model, presence decided at run time."""

    def __init__(self):
        self._roots: dict[str, ModelShape] = {}

    def root(self, resource: str) -> Shape | None:
        model = fhir_model()
        if resource not in model["resources"]:
            return None
        if resource not in self._roots:
            self._roots[resource] = ModelShape((), resource, False, present=True)
        return self._roots[resource]

    def columns(self, resource: str) -> set[str]:
        root = self._roots.get(resource)
        return set(root.children) if root else set()
