"""Lake Formation state as plain, comparable values, and the normalization that makes live and desired
comparable at all.

The same grant comes back from `ListPermissions` in several spellings: `ALL` or its expansion, a table as
`Table` or as `TableWithColumns` with an empty column wildcard, a principal ARN with or without an IAM path,
plus DESCRIBE grants Lake Formation adds by itself. Diffing raw API output is how Terraform's Lake Formation
resources end up with perpetual diffs, so both sides are reduced to one canonical form first."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from mmhealth.governance.policy import ALL_DATABASE, ALL_TABLE, canonical_principal
from mmhealth.governance.rowfilter import canonical_or_verbatim


@dataclass(frozen=True, order=True)
class Res:
    """A Lake Formation resource in canonical form. `kind` is one of database, table, columns, tagpolicy, filter,
    other (anything we do not manage, kept only to be reported)."""

    kind: str
    database: str = ""
    table: str = ""
    columns: tuple[str, ...] = ()
    excluded: bool = False  # columns are excluded from a wildcard rather than listed
    expression: tuple[tuple[str, tuple[str, ...]], ...] = ()
    resource_type: str = ""  # TABLE / DATABASE for tag policies
    name: str = ""  # filter name, or raw JSON for kind=other

    @property
    def key(self) -> str:
        if self.kind == "database":
            return f"database {self.database}"
        if self.kind == "table":
            return f"table {self.database}.{self.table}"
        if self.kind == "columns":
            sign = "all except " if self.excluded else ""
            return f"columns {self.database}.{self.table} ({sign}{', '.join(self.columns)})"
        if self.kind == "tagpolicy":
            expr = " AND ".join(f"{k} IN ({', '.join(v)})" for k, v in self.expression)
            return f"{self.resource_type.lower()}s tagged {expr}"
        if self.kind == "filter":
            return f"data cells filter {self.database}.{self.table}/{self.name}"
        return f"resource {self.name}"

    @property
    def all_expansion(self) -> frozenset[str]:
        if self.kind == "database" or (self.kind == "tagpolicy" and self.resource_type == "DATABASE"):
            return ALL_DATABASE
        if self.kind in ("table", "tagpolicy"):
            return ALL_TABLE
        return frozenset()

    def to_api(self, catalog_id: str) -> dict:
        if self.kind == "database":
            return {"Database": {"CatalogId": catalog_id, "Name": self.database}}
        if self.kind == "table":
            if self.table == "*":
                return {"Table": {"CatalogId": catalog_id, "DatabaseName": self.database, "TableWildcard": {}}}
            return {"Table": {"CatalogId": catalog_id, "DatabaseName": self.database, "Name": self.table}}
        if self.kind == "columns":
            body = {"CatalogId": catalog_id, "DatabaseName": self.database, "Name": self.table}
            if self.excluded:
                body["ColumnWildcard"] = {"ExcludedColumnNames": list(self.columns)}
            else:
                body["ColumnNames"] = list(self.columns)
            return {"TableWithColumns": body}
        if self.kind == "tagpolicy":
            return {"LFTagPolicy": {"CatalogId": catalog_id, "ResourceType": self.resource_type,
                                    "Expression": [{"TagKey": k, "TagValues": list(v)} for k, v in self.expression]}}
        if self.kind == "filter":
            return {"DataCellsFilter": {"TableCatalogId": catalog_id, "DatabaseName": self.database,
                                        "TableName": self.table, "Name": self.name}}
        return json.loads(self.name)


def res_from_api(resource: dict) -> tuple[Res, str | None]:
    """Canonical resource and the catalog id it names (None when the API left it implicit)."""
    if "Database" in resource:
        d = resource["Database"]
        return Res("database", d["Name"]), d.get("CatalogId")
    if "Table" in resource:
        d = resource["Table"]
        name = "*" if "TableWildcard" in d else d["Name"]
        return Res("table", d["DatabaseName"], name), d.get("CatalogId")
    if "TableWithColumns" in resource:
        d = resource["TableWithColumns"]
        if "ColumnWildcard" in d:
            excluded = tuple(sorted((d["ColumnWildcard"] or {}).get("ExcludedColumnNames") or []))
            if not excluded:  # an empty wildcard is the whole table
                return Res("table", d["DatabaseName"], d["Name"]), d.get("CatalogId")
            return Res("columns", d["DatabaseName"], d["Name"], excluded, True), d.get("CatalogId")
        return Res("columns", d["DatabaseName"], d["Name"], tuple(sorted(d.get("ColumnNames") or []))), d.get("CatalogId")
    if "LFTagPolicy" in resource:
        d = resource["LFTagPolicy"]
        expr = tuple(sorted((e["TagKey"], tuple(sorted(e["TagValues"]))) for e in d.get("Expression") or []))
        return Res("tagpolicy", expression=expr, resource_type=d.get("ResourceType", "TABLE")), d.get("CatalogId")
    if "DataCellsFilter" in resource:
        d = resource["DataCellsFilter"]
        return Res("filter", d["DatabaseName"], d["TableName"], name=d["Name"]), d.get("TableCatalogId")
    return Res("other", name=json.dumps(resource, sort_keys=True)), None


@dataclass(frozen=True, order=True)
class Atom:
    """One permission of one principal on one resource; `grantable` = held with grant option."""

    principal: str
    res: Res
    permission: str
    grantable: bool = False


def normalize_permissions(res: Res, perms: set[str]) -> set[str]:
    """`ALL` and its full expansion are the same grant; list it as `ALL` either way."""
    expansion = res.all_expansion
    if "ALL" in perms or (expansion and expansion <= perms):
        return {"ALL"} | (perms - expansion - {"ALL"})
    return set(perms)


def atoms_from(principal: str, res: Res, perms, grantable) -> set[Atom]:
    p = normalize_permissions(res, set(perms))
    g = normalize_permissions(res, set(grantable)) if grantable else set()
    return {Atom(principal, res, perm, perm in g) for perm in p | g}


def merge_entries(entries) -> set[Atom]:
    """(principal, Res, permissions, grantable permissions) rows -> canonical atoms, merging rows that name the
    same principal and resource first (a table's SELECT and DESCRIBE often come back as two rows)."""
    merged: dict[tuple[str, Res], tuple[set[str], set[str]]] = {}
    for principal, res, perms, grantable in entries:
        key = (canonical_principal(principal), res)
        p, g = merged.setdefault(key, (set(), set()))
        p.update(perms)
        g.update(grantable)
    out: set[Atom] = set()
    for (principal, res), (p, g) in merged.items():
        out |= atoms_from(principal, res, p, g)
    return out


@dataclass(frozen=True)
class FilterSpec:
    database: str
    table: str
    name: str
    row_filter: str | None  # None: all rows. Canonical (rowfilter.py), or verbatim when live text is not in the subset
    columns: tuple[str, ...] | None  # listed columns, or None with `excluded`
    excluded: tuple[str, ...] = ()

    def to_api(self, catalog_id: str) -> dict:
        body = {"TableCatalogId": catalog_id, "DatabaseName": self.database, "TableName": self.table, "Name": self.name,
                "RowFilter": {"FilterExpression": self.row_filter} if self.row_filter else {"AllRowsWildcard": {}}}
        if self.columns is not None:
            body["ColumnNames"] = list(self.columns)
        else:
            body["ColumnWildcard"] = {"ExcludedColumnNames": list(self.excluded)}
        return body

    def describe(self) -> str:
        cols = ", ".join(self.columns) if self.columns is not None else (
            f"all except {', '.join(self.excluded)}" if self.excluded else "all columns")
        rows = (self.row_filter or "TRUE").replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
        return f"rows where {rows}; columns {cols}"


def filter_from_api(d: dict) -> FilterSpec:
    rf = d.get("RowFilter") or {}
    expr = rf.get("FilterExpression")
    if "ColumnNames" in d and d["ColumnNames"]:
        columns, excluded = tuple(sorted(d["ColumnNames"])), ()
    else:
        columns, excluded = None, tuple(sorted((d.get("ColumnWildcard") or {}).get("ExcludedColumnNames") or []))
    # Live text in the subset compares by its canonical form, so spacing and case are no drift; anything else
    # (a comment, a function typed in the console) is kept verbatim and so always differs from the policy.
    return FilterSpec(d["DatabaseName"], d["TableName"], d["Name"], canonical_or_verbatim(expr) if expr else None,
                      columns, excluded)


@dataclass
class State:
    """What Lake Formation holds (or should hold) for the governed scope."""

    lf_tags: dict[str, frozenset[str]] = field(default_factory=dict)
    resource_tags: dict[str, dict[str, str]] = field(default_factory=dict)  # "db", "db.t", "db.t.c" -> key -> value
    filters: dict[str, FilterSpec] = field(default_factory=dict)  # "db.t/name"
    permissions: set[Atom] = field(default_factory=set)
    # canonical principal -> how it is spelled when sent (policy) or as Lake Formation returned it (live);
    # not part of the state's identity, so not in canonical()/digest().
    spelling: dict[str, str] = field(default_factory=dict)

    def canonical(self) -> dict:
        return {
            "lf_tags": {k: sorted(v) for k, v in sorted(self.lf_tags.items())},
            "resource_tags": {k: dict(sorted(v.items())) for k, v in sorted(self.resource_tags.items())},
            "filters": {k: [f.row_filter, f.columns, f.excluded] for k, f in sorted(self.filters.items())},
            "permissions": sorted([a.principal, a.res.key, a.permission, a.grantable] for a in self.permissions),
        }

    def digest(self) -> str:
        blob = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()
