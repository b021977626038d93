"""What each principal can read, computed from the policy and the manifest the way Lake Formation would:
tag inheritance (database -> table -> column, nearer wins per key), tag expressions (AND across keys, OR
within one key's values), named table / column grants, and data cells filters (columns x rows).

This one computation feeds the PHI invariant in `validate`, the review matrix of `govern access` and the
views of `govern local`, so what reviewers read is what Lake Formation enforces. Delegation (grant options, and write
permissions) is computed here too: who can hand which table on, or change it."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from mmhealth.governance.manifest import Catalog, Table
from mmhealth.governance.policy import CLEARANCES, READ_PERMISSIONS, WRITE_PERMISSIONS, Grant, Policy, clearance_rank


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
            rank = clearance_rank(level) if level in CLEARANCES else clearance_rank("phi")
            if rank > clearance_rank(p.clearance):
                out.append(Violation(p.name, p.clearance, r.table, col, level, r.grant))
    return out


# --- delegation: grant options and write permissions ----------------------------------------------------

def tables_of_grant(grant: Grant, policy: Policy, catalog: Catalog, tagging: Tagging) -> list[Table]:
    """Every table a grant covers, whatever its permissions: what a grant option lets the principal hand on,
    and what a write permission lets it change. Wider than `columns_of_grant` on purpose (it fails closed): a
    tag expression covers a table when the table's own tags or any of its columns' tags match it."""
    tables = list(catalog.tables.values())
    if grant.tag_expression is not None:
        if grant.resource_type == "DATABASE":
            dbs = {name for name, tags in tagging.database.items() if expression_matches(grant.tag_expression, tags)}
            return [t for t in tables if t.database in dbs]
        return [t for t in tables
                if expression_matches(grant.tag_expression, tagging.effective_table(t))
                or any(expression_matches(grant.tag_expression, tagging.effective_column(t, c)) for c in t.columns)]
    if grant.via_filter is not None:
        f = policy.filter_by_name(grant.via_filter)
        t = catalog.get(f"{f.database}.{f.table}")
        return [t] if t is not None else []
    if grant.database is not None:
        return catalog.in_database(grant.database)
    db, name = grant.table.split(".", 1)
    if name == "*":
        return catalog.in_database(db)
    t = catalog.get(grant.table)
    return [t] if t is not None else []


def phi_columns(table: Table) -> list[str]:
    """Columns classified phi, or not classified at all (which counts as phi: fail closed)."""
    return sorted(c.name for c in table.columns.values() if c.sensitivity not in CLEARANCES or c.sensitivity == "phi")


@dataclass(frozen=True)
class Delegation:
    """A principal that can hand a table on (`kind` regrant: grantable permissions) or change it (`kind` write:
    INSERT / DELETE / ALTER / DROP / ALL), through one grant."""

    principal: str
    clearance: str
    kind: str  # regrant | write
    permissions: tuple[str, ...]
    table: str
    phi_columns: tuple[str, ...]
    grant: Grant

    @property
    def allowed(self) -> bool:
        """The policy says so explicitly (the schema makes it give a reason)."""
        return self.grant.allow_phi_regrant if self.kind == "regrant" else self.grant.allow_phi_write


def delegations(policy: Policy, catalog: Catalog, tagging: Tagging | None = None) -> list[Delegation]:
    """Every (principal, table, grant) with grantable or write permissions, phi tables or not; data cells
    filters carry neither."""
    tagging = tagging or resolve_tags(policy, catalog)
    out = []
    for grant in policy.grants:
        kinds = [("regrant", tuple(sorted(grant.grant_option))),
                 ("write", tuple(sorted(grant.permissions & WRITE_PERMISSIONS)))]
        kinds = [(k, perms) for k, perms in kinds if perms]
        if not kinds:
            continue
        tables = tables_of_grant(grant, policy, catalog, tagging)
        for name in grant.principals:
            p = policy.principals.get(name)
            if p is None:
                continue
            for t in sorted(tables, key=lambda t: t.fqn):
                for kind, perms in kinds:
                    out.append(Delegation(name, p.clearance, kind, perms, t.fqn, tuple(phi_columns(t)), grant))
    return out


@dataclass(frozen=True)
class DelegationFinding:
    """One refused (or pointless) delegation exception, grouped per grant, principal and kind."""

    grant: Grant
    principal: str
    message: str
    level: str = "error"


def delegation_findings(policy: Policy, catalog: Catalog, tagging: Tagging | None = None) -> list[DelegationFinding]:
    """The PHI invariant for delegation: a grant option or a write permission on a table with phi columns is
    refused unless the principal is cleared for phi AND the grant says allow_phi_regrant / allow_phi_write
    (with a reason). An exception the grant does not need is a warning, so stale ones get noticed."""
    tagging = tagging or resolve_tags(policy, catalog)
    groups: dict[tuple[str, str, str], list[Delegation]] = defaultdict(list)
    for d in delegations(policy, catalog, tagging):
        if d.phi_columns:
            groups[(d.grant.name, d.principal, d.kind)].append(d)
    out = []
    for (_, principal, kind), ds in groups.items():
        g, first = ds[0].grant, ds[0]
        flag = "allow_phi_regrant" if kind == "regrant" else "allow_phi_write"
        perms = ", ".join(first.permissions) + (" WITH GRANT OPTION" if kind == "regrant" else "")
        tables = ", ".join(d.table.split(".", 1)[1] for d in ds[:4]) + (f" and {len(ds) - 4} more" if len(ds) > 4 else "")
        example = f"{ds[0].table}.{ds[0].phi_columns[0]}"
        risk = ("could re-grant PHI to anyone, outside this policy" if kind == "regrant"
                else "could change or destroy PHI")
        head = (f"{g.label} gives principal '{principal}' (clearance {first.clearance}) {perms} on {len(ds)} "
                f"table(s) with phi columns ({tables}; e.g. {example}) - it {risk}")
        if first.clearance != "phi":
            out.append(DelegationFinding(g, principal, f"{head}; only a phi-cleared principal may hold it - remove "
                                                        f"{'grant_option' if kind == 'regrant' else 'the write permissions'}"
                                                        " or narrow the grant to tables without phi columns"))
        elif not first.allowed:
            out.append(DelegationFinding(g, principal, f"{head}; remove {'grant_option' if kind == 'regrant' else 'them'}, "
                                                        f"or say so explicitly: {flag}: true with a reason"))
    needed = {(g, k) for g, _, k in groups}
    for g in policy.grants:
        for kind, flag in (("regrant", g.allow_phi_regrant), ("write", g.allow_phi_write)):
            if flag and (g.name, kind) not in needed:
                name = "allow_phi_regrant" if kind == "regrant" else "allow_phi_write"
                what = "grant option" if kind == "regrant" else "write permission"
                out.append(DelegationFinding(g, "", f"{g.label} sets {name} but gives no {what} on a table with phi "
                                                    f"columns - remove {name} (and its reason)", "warning"))
    return out
