"""The state the policy asks for, in the same canonical form as live state (`state.py`), plus the scope:
which part of the account this tool manages, so everything else is left alone."""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from mmhealth.governance.access import Tagging, resolve_tags
from mmhealth.governance.manifest import Catalog
from mmhealth.governance.policy import Grant, Policy
from mmhealth.governance.state import Atom, FilterSpec, Res, State, merge_entries


@dataclass(frozen=True)
class Scope:
    catalog_id: str
    databases: frozenset[str]
    tables: dict[str, tuple[str, ...]]  # "db.t" -> columns (what to read resource tags for)
    tag_keys: frozenset[str]
    unmanaged_principals: frozenset[str]
    unmanaged_resources: tuple[str, ...]

    def resource_unmanaged(self, database: str, table: str = "") -> bool:
        names = [database] + ([f"{database}.{table}"] if table else [])
        return any(fnmatchcase(n, pat) for n in names for pat in self.unmanaged_resources)

    def owns_res(self, res: Res, catalog_id: str | None) -> bool:
        """Is this resource ours to change? Tag policies are ours when every key in them is a managed key."""
        if catalog_id not in (None, self.catalog_id):
            return False
        if res.kind == "tagpolicy":
            return all(k in self.tag_keys for k, _ in res.expression)
        if res.kind in ("database", "table", "columns", "filter"):
            return res.database in self.databases and not self.resource_unmanaged(res.database, res.table)
        return False

    def owns_atom(self, atom: Atom) -> bool:
        return atom.principal not in self.unmanaged_principals and self.owns_res(atom.res, None)


def scope_of(policy: Policy, catalog: Catalog) -> Scope:
    scope = Scope(
        catalog_id=policy.catalog_id,
        databases=frozenset(policy.databases),
        tables={},
        tag_keys=frozenset(policy.lf_tags),
        unmanaged_principals=frozenset(policy.unmanaged_principals),
        unmanaged_resources=policy.unmanaged_resources,
    )
    for fqn, t in sorted(catalog.tables.items()):
        if not scope.resource_unmanaged(t.database, t.name):
            scope.tables[fqn] = tuple(t.columns)
    return scope


def grant_resource(grant: Grant, policy: Policy) -> Res:
    if grant.tag_expression is not None:
        return Res("tagpolicy", expression=grant.tag_expression, resource_type=grant.resource_type)
    if grant.database is not None:
        return Res("database", grant.database)
    db, table = grant.table.split(".", 1)
    if grant.via_filter is not None:
        return Res("filter", db, table, name=grant.via_filter)
    if grant.columns is not None:
        return Res("columns", db, table, tuple(sorted(grant.columns)))
    if grant.exclude_columns is not None:
        return Res("columns", db, table, tuple(sorted(grant.exclude_columns)), True)
    return Res("table", db, table)


def desired_state(policy: Policy, catalog: Catalog, tagging: Tagging | None = None) -> tuple[State, Scope]:
    tagging = tagging or resolve_tags(policy, catalog)
    scope = scope_of(policy, catalog)
    state = State()
    state.lf_tags = {k: frozenset(v) for k, v in policy.lf_tags.items()}
    for name in policy.databases:
        if not scope.resource_unmanaged(name):
            state.resource_tags[name] = dict(tagging.database.get(name, {}))
    for fqn in scope.tables:
        state.resource_tags[fqn] = dict(tagging.table.get(fqn, {}))
        for col in scope.tables[fqn]:
            state.resource_tags[f"{fqn}.{col}"] = dict(tagging.column.get(fqn, {}).get(col, {}))
    for f in policy.filters:
        spec = FilterSpec(
            f.database, f.table, f.name,
            f.row_filter,  # canonical: parsed once when the policy was loaded
            tuple(sorted(f.columns)) if f.columns is not None else None,
            tuple(sorted(f.exclude_columns or ())),
        )
        state.filters[f"{f.database}.{f.table}/{f.name}"] = spec
    # Every principal the policy names, granted or not: a revoke from one without grants shows its full ARN too.
    state.spelling.update({p.identifier: p.as_written for p in policy.principals.values()})
    entries = []
    for g in policy.all_grants():
        res = grant_resource(g, policy)
        for pname in g.principals:
            p = policy.principals[pname]
            entries.append((p.identifier, res, g.permissions, g.grant_option))
            state.spelling[p.identifier] = p.as_written
    state.permissions = {a for a in merge_entries(entries) if scope.owns_atom(a)}
    return state, scope
