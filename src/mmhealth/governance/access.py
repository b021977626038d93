"""What each principal can read, computed from the policy and the manifest the way Lake Formation would:
tag inheritance (database -> table -> column, nearer wins per key), tag expressions (AND across keys, OR
within one key's values), named table / column grants, and data cells filters (columns x rows).

This one computation feeds the PHI invariant in `validate`, the review matrix of `govern access` and the
views of `govern local`, so what reviewers read is what is enforced."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from mmhealth.governance.manifest import Catalog, Table
from mmhealth.governance.policy import READ_PERMISSIONS, Grant, Policy
from mmhealth.manifest import cleared


@dataclass
class Tagging:
    """Effective LF-Tag assignments of every governed database, table and column."""

    database: dict[str, dict[str, str]]
    table: dict[str, dict[str, str]]  # only the table's own assignments
    column: dict[str, dict[str, dict[str, str]]]  # fqn -> column -> own assignments
    conflicts: list[tuple[str, str, list[tuple[str, int]]]] = field(default_factory=list)  # (fqn, key, [(value, line)])

    def effective_column(self, table: Table, column: str) -> dict[str, str]:
        return {**self.database.get(table.database, {}), **self.table.get(table.fqn, {}),
                **self.column.get(table.fqn, {}).get(column, {})}

    def effective_table(self, table: Table) -> dict[str, str]:
        return {**self.database.get(table.database, {}), **self.table.get(table.fqn, {})}


def resolve_tags(policy: Policy, catalog: Catalog) -> Tagging:
    database = {name: dict(db.tags) for name, db in policy.databases.items()}
    table: dict[str, dict[str, str]] = {}
    conflicts = []
    for t in catalog.tables.values():
        seen: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for rule in policy.tables:
            if fnmatchcase(t.fqn, rule.match):
                for k, v in rule.tags.items():
                    seen[k].append((v, rule.line))
        assigned = {}
        for k, values in seen.items():
            if len({v for v, _ in values}) > 1:
                conflicts.append((t.fqn, k, values))
            assigned[k] = values[-1][0]
        table[t.fqn] = assigned
    column = {
        t.fqn: {c.name: {policy.classification_tag: c.sensitivity} for c in t.columns.values() if c.sensitivity}
        for t in catalog.tables.values()
    }
    return Tagging(database, table, column, conflicts)


def expression_matches(expression, tags: dict[str, str]) -> bool:
    return all(tags.get(key) in values for key, values in expression)


@dataclass(frozen=True)
class Reach:
    """One way a principal reads some columns of one table: through `grant`, limited to rows by `row_filter`."""

    principal: str
    table: str
    columns: frozenset[str]
    row_filter: str | None
    grant: Grant


def columns_of_grant(grant: Grant, policy: Policy, catalog: Catalog, tagging: Tagging) -> dict[str, frozenset[str]]:
    """Table fqn -> columns whose cells `grant` lets its principals read (empty if it grants no read)."""
    if not (grant.permissions & READ_PERMISSIONS):
        return {}
    out: dict[str, frozenset[str]] = {}
    if grant.tag_expression is not None:
        if grant.resource_type != "TABLE":
            return {}
        for t in catalog.tables.values():
            cols = frozenset(c for c in t.columns if expression_matches(grant.tag_expression, tagging.effective_column(t, c)))
            if cols:
                out[t.fqn] = cols
        return out
    if grant.via_filter is not None:
        f = policy.filter_by_name(grant.via_filter)
        t = catalog.get(f"{f.database}.{f.table}")
        if t is None:
            return {}
        out[t.fqn] = _pick(t, f.columns, f.exclude_columns)
        return out
    if grant.table is not None:
        db, name = grant.table.split(".", 1)
        targets = catalog.in_database(db) if name == "*" else [catalog.get(grant.table)]
        for t in targets:
            if t is not None:
                out[t.fqn] = _pick(t, grant.columns, grant.exclude_columns)
    return out


def _pick(t: Table, include, exclude) -> frozenset[str]:
    if include is not None:
        return frozenset(c for c in include if c in t.columns)
    if exclude is not None:
        return frozenset(c for c in t.columns if c not in exclude)
    return frozenset(t.columns)


def reaches(policy: Policy, catalog: Catalog, tagging: Tagging) -> list[Reach]:
    out = []
    for grant in policy.all_grants():
        row_filter = None
        if grant.via_filter is not None:
            row_filter = policy.filter_by_name(grant.via_filter).row_filter
        for fqn, cols in columns_of_grant(grant, policy, catalog, tagging).items():
            for p in grant.principals:
                out.append(Reach(p, fqn, cols, row_filter, grant))
    return out


@dataclass
class ColumnAccess:
    name: str
    classification: str | None
    rows: tuple[str, ...] | None  # None: every row; else the OR of these row filters
    via: tuple[str, ...]


@dataclass
class TableAccess:
    principal: str
    table: str
    columns: dict[str, ColumnAccess]

    @property
    def row_filter(self) -> tuple[str, ...] | None:
        """Rows visible at all: every row if one column is unfiltered, else the union of the filters."""
        filters: set[str] = set()
        for c in self.columns.values():
            if c.rows is None:
                return None
            filters.update(c.rows)
        return tuple(sorted(filters))


def access_matrix(policy: Policy, catalog: Catalog, tagging: Tagging | None = None) -> dict[str, dict[str, TableAccess]]:
    """principal -> table -> TableAccess. A column's rows are unfiltered if any grant gives it unfiltered."""
    tagging = tagging or resolve_tags(policy, catalog)
    matrix: dict[str, dict[str, TableAccess]] = {p: {} for p in policy.principals}
    for r in reaches(policy, catalog, tagging):
        if r.principal not in matrix:
            continue
        t = catalog.get(r.table)
        ta = matrix[r.principal].setdefault(r.table, TableAccess(r.principal, r.table, {}))
        for col in sorted(r.columns):
            ca = ta.columns.get(col)
            if ca is None:
                ca = ta.columns[col] = ColumnAccess(col, t.columns[col].sensitivity, (), ())
            ca.via = tuple(sorted(set(ca.via) | {r.grant.name}))
            if r.row_filter is None or ca.rows is None:
                ca.rows = None
            else:
                ca.rows = tuple(sorted(set(ca.rows) | {r.row_filter}))
    return matrix


@dataclass(frozen=True)
class Violation:
    principal: str
    clearance: str
    table: str
    column: str
    classification: str
    grant: Grant

    def message(self, policy: Policy) -> str:
        level = self.classification or "unclassified (treated as phi)"
        what = "PHI" if self.classification in (None, "phi") else self.classification
        return (
            f"{policy.file}:{self.grant.line}: {self.grant.label} lets principal '{self.principal}' "
            f"(clearance {self.clearance}) read {what} column {self.table}.{self.column} [{level}] - "
            f"narrow the grant (e.g. add {policy.classification_tag}: [...] to its tag expression, list columns, "
            f"or exclude the column) or raise the principal's clearance"
        )


def clearance_violations(policy: Policy, catalog: Catalog, tagging: Tagging | None = None) -> list[Violation]:
    """Every (principal, column, grant) where the column's classification is above the principal's clearance.

    An unclassified column counts as phi: the invariant fails closed."""
    tagging = tagging or resolve_tags(policy, catalog)
    out = []
    for r in reaches(policy, catalog, tagging):
        p = policy.principals.get(r.principal)
        if p is None:
            continue
        t = catalog.get(r.table)
        for col in sorted(r.columns):
            level = t.columns[col].sensitivity
            if not cleared(p.clearance, level):  # the shared ladder: unclassified ranks as phi
                out.append(Violation(p.name, p.clearance, r.table, col, level, r.grant))
    return out
