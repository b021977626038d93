"""A ViewDefinition (SQL-on-FHIR v2) as typed dataclasses, checked for shape before anything is compiled.

Every problem is a `ViewError`: one line naming the view, the column (when there is one) and the path."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from mmhealth.errors import MMHealthError


class ViewError(MMHealthError):
    """A view that cannot be compiled, with where and why in one line."""

    def __init__(self, view: str, reason: str, column: str | None = None, path: str | None = None):
        where = f"view {view!r}"
        if column:
            where += f", column {column!r}"
        if path is not None:
            where += f", path {path!r}"
        super().__init__(f"{where}: {reason}")
        self.view, self.column, self.path, self.reason = view, column, path, reason


@dataclass(frozen=True)
class Column:
    name: str
    path: str
    type: str | None = None  # FHIR type name as the view declares it (string, integer, boolean, dateTime, ...)
    collection: bool = False
    description: str | None = None
    tags: tuple[tuple[str, str], ...] = ()

    def tag(self, name: str) -> str | None:
        return next((v for n, v in self.tags if n == name), None)


@dataclass(frozen=True)
class Select:
    column: tuple[Column, ...] = ()
    select: tuple["Select", ...] = ()
    union_all: tuple["Select", ...] = ()
    for_each: str | None = None
    for_each_or_null: str | None = None
    repeat: tuple[str, ...] = ()


@dataclass(frozen=True)
class Constant:
    name: str
    value: object
    type: str  # the FHIR type of valueX (string, integer, boolean, decimal, date, ...)


@dataclass(frozen=True)
class ViewDefinition:
    name: str
    resource: str
    select: tuple[Select, ...]
    where: tuple[str, ...] = ()
    constants: dict[str, Constant] = field(default_factory=dict)
    title: str | None = None
    description: str | None = None
    source: str | None = None  # the file it came from

    def columns(self) -> list[Column]:
        """Every output column in the spec's order (a select's columns, then its nested selects, then its
        unionAll), checked for duplicates and for union branches that disagree."""
        out: list[Column] = []
        for s in self.select:
            out = _collect(self, s, out)
        return out


_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_SELECT_KEYS = {"column", "select", "unionAll", "forEach", "forEachOrNull", "repeat"}
_COLUMN_KEYS = {"name", "path", "type", "collection", "description", "tag", "tags"}
_CONSTANT_TYPES = {
    "valueBase64Binary": "base64Binary", "valueBoolean": "boolean", "valueCanonical": "canonical",
    "valueCode": "code", "valueDate": "date", "valueDateTime": "dateTime", "valueDecimal": "decimal",
    "valueId": "id", "valueInstant": "instant", "valueInteger": "integer", "valueInteger64": "integer64",
    "valueOid": "oid", "valueString": "string", "valuePositiveInt": "positiveInt", "valueTime": "time",
    "valueUnsignedInt": "unsignedInt", "valueUri": "uri", "valueUrl": "url", "valueUuid": "uuid",
}


def _collect(view: ViewDefinition, s: Select, before: list[Column]) -> list[Column]:
    out = list(before)

    def add(col: Column) -> None:
        if any(c.name == col.name for c in out):
            raise ViewError(view.name, "column name defined twice", col.name, col.path)
        out.append(col)

    for c in s.column:
        add(c)
    for child in s.select:
        for c in _collect(view, child, out)[len(out):]:
            add(c)
    if s.union_all:
        branches = [_collect(view, u, out)[len(out):] for u in s.union_all]
        first = [c.name for c in branches[0]]
        for b in branches[1:]:
            if [c.name for c in b] != first:
                raise ViewError(view.name, f"unionAll branches have different columns: {first} vs "
                                           f"{[c.name for c in b]} (names and order must match)")
        for c in branches[0]:
            add(c)
    return out


def _str(view: str, obj: dict, key: str, where: str) -> str | None:
    v = obj.get(key)
    if v is not None and not isinstance(v, str):
        raise ViewError(view, f"{where}.{key} must be a FHIRPath string, got {json.dumps(v)}")
    return v


def _select(view: str, obj, where: str) -> Select:
    if not isinstance(obj, dict):
        raise ViewError(view, f"{where} must be an object")
    unknown = set(obj) - _SELECT_KEYS
    if unknown:
        raise ViewError(view, f"{where} has unknown keys {sorted(unknown)}")
    cols = []
    for i, c in enumerate(_list(view, obj, "column", where)):
        cols.append(_column(view, c, f"{where}.column[{i}]"))
    repeat = obj.get("repeat")
    if repeat is not None:
        if not isinstance(repeat, list) or not repeat or not all(isinstance(p, str) for p in repeat):
            raise ViewError(view, f"{where}.repeat must be a non-empty list of FHIRPath strings")
    iterators = [k for k in ("forEach", "forEachOrNull", "repeat") if obj.get(k) is not None]
    if len(iterators) > 1:
        raise ViewError(view, f"{where} has {' and '.join(iterators)}: a select iterates over one thing")
    return Select(
        column=tuple(cols),
        select=tuple(_select(view, s, f"{where}.select[{i}]") for i, s in enumerate(_list(view, obj, "select", where))),
        union_all=tuple(_select(view, s, f"{where}.unionAll[{i}]")
                        for i, s in enumerate(_list(view, obj, "unionAll", where))),
        for_each=_str(view, obj, "forEach", where),
        for_each_or_null=_str(view, obj, "forEachOrNull", where),
        repeat=tuple(repeat or ()),
    )


def _list(view: str, obj: dict, key: str, where: str) -> list:
    v = obj.get(key)
    if v is None:
        return []
    if not isinstance(v, list) or (key != "column" and not v):
        raise ViewError(view, f"{where}.{key} must be a non-empty list")
    return v


def _column(view: str, obj, where: str) -> Column:
    if not isinstance(obj, dict):
        raise ViewError(view, f"{where} must be an object")
    unknown = set(obj) - _COLUMN_KEYS
    if unknown:
        raise ViewError(view, f"{where} has unknown keys {sorted(unknown)}")
    path = obj.get("path")
    if not isinstance(path, str) or not path.strip():
        raise ViewError(view, f"{where} needs a FHIRPath string `path`", obj.get("name"))
    name = obj.get("name")
    if name is None and _NAME.match(path):
        name = path  # the spec lets a simple path name its column
    if not isinstance(name, str) or not _NAME.match(name):
        raise ViewError(view, f"{where}: column name {name!r} must match [A-Za-z][A-Za-z0-9_]*", None, path)
    ctype = obj.get("type")
    if ctype is not None and not isinstance(ctype, str):
        raise ViewError(view, "type must be a FHIR type name", name, path)
    coll = obj.get("collection", False)
    if coll is None:
        coll = False
    if not isinstance(coll, bool):
        raise ViewError(view, "collection must be true or false", name, path)
    tags = []
    for t in obj.get("tag") or obj.get("tags") or []:
        if isinstance(t, dict) and isinstance(t.get("name"), str):
            tags.append((t["name"], str(t.get("value", ""))))
    desc = obj.get("description")
    return Column(name=name, path=path, type=ctype, collection=coll,
                  description=desc if isinstance(desc, str) else None, tags=tuple(tags))


def parse_view(obj, name_hint: str = "view", source: str | None = None) -> ViewDefinition:
    """A ViewDefinition from its JSON object. Raises ViewError for anything the spec does not allow."""
    if not isinstance(obj, dict):
        raise ViewError(name_hint, "a ViewDefinition must be a JSON object")
    name = obj.get("name") or obj.get("id") or name_hint
    if not isinstance(name, str):
        name = name_hint
    rt = obj.get("resourceType")
    if rt is not None and rt != "ViewDefinition":
        raise ViewError(name, f"resourceType is {rt!r}, not 'ViewDefinition'")
    resource = obj.get("resource")
    if not isinstance(resource, str) or not _NAME.match(resource or ""):
        raise ViewError(name, "`resource` (the FHIR resource type the view reads, e.g. \"Patient\") is missing")
    selects = obj.get("select")
    if not isinstance(selects, list) or not selects:
        raise ViewError(name, "`select` must be a non-empty list")
    constants: dict[str, Constant] = {}
    for i, c in enumerate(obj.get("constant") or []):
        if not isinstance(c, dict) or not isinstance(c.get("name"), str):
            raise ViewError(name, f"constant[{i}] needs a name")
        values = [(k, v) for k, v in c.items() if k.startswith("value")]
        if len(values) != 1 or values[0][0] not in _CONSTANT_TYPES:
            raise ViewError(name, f"constant {c['name']!r} needs exactly one value[x] "
                                  f"({', '.join(sorted(_CONSTANT_TYPES))})")
        key, value = values[0]
        ctype = _CONSTANT_TYPES[key]
        ok = {"boolean": isinstance(value, bool), "decimal": isinstance(value, (int, float)) and not isinstance(value, bool),
              "integer": isinstance(value, int) and not isinstance(value, bool),
              "positiveInt": isinstance(value, int) and not isinstance(value, bool) and value >= 1,
              "unsignedInt": isinstance(value, int) and not isinstance(value, bool) and value >= 0}.get(ctype, isinstance(value, str))
        if not ok:
            raise ViewError(name, f"constant {c['name']!r}: {key} has the wrong kind of value {json.dumps(value)}")
        constants[c["name"]] = Constant(c["name"], value, ctype)
    wheres = []
    for i, w in enumerate(obj.get("where") or []):
        if not isinstance(w, dict) or not isinstance(w.get("path"), str):
            raise ViewError(name, f"where[{i}] needs a FHIRPath string `path`")
        wheres.append(w["path"])
    view = ViewDefinition(
        name=name, resource=resource,
        select=tuple(_select(name, s, f"select[{i}]") for i, s in enumerate(selects)),
        where=tuple(wheres), constants=constants,
        title=obj.get("title") if isinstance(obj.get("title"), str) else None,
        description=obj.get("description") if isinstance(obj.get("description"), str) else None,
        source=source,
    )
    view.columns()  # duplicate names, union mismatches
    return view


def load_view(path: Path) -> ViewDefinition:
    """Read a ViewDefinition JSON file."""
    path = Path(path)
    try:
        obj = json.loads(path.read_text())
    except FileNotFoundError:
        raise MMHealthError(f"{path}: no such view file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise MMHealthError(f"{path}: not a JSON ViewDefinition ({e}) - fix the file") from None
    return parse_view(obj, name_hint=path.stem, source=str(path))
