"""`govern validate`: schema, then meaning. Every finding names a file and line; all are reported at once."""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from mmhealth.governance.access import clearance_violations, delegation_findings, resolve_tags
from mmhealth.governance.lakemeta import governs_quarantine, with_lake_tables
from mmhealth.governance.manifest import Catalog, catalog_from_manifest, read_manifest
from mmhealth.governance.policy import ALL_DATABASE, CLEARANCES, Policy, PolicyError, load_policy
from mmhealth.governance.rowfilter import RowFilter
from mmhealth.paths import resolve_project_path

TABLE_PERMISSIONS = {"ALL", "SELECT", "ALTER", "DROP", "DELETE", "INSERT", "DESCRIBE"}
COLUMN_PERMISSIONS = {"SELECT"}


@dataclass(frozen=True)
class Finding:
    where: str  # file:line
    message: str
    level: str = "error"  # or "warning"

    def __str__(self) -> str:
        return f"{self.where}: {'warning: ' if self.level == 'warning' else ''}{self.message}"


def load(policy_path: str | Path, manifest_path: str | Path | None = None, catalog_id: str | None = None) -> tuple[Policy, Catalog]:
    policy = load_policy(policy_path, catalog_id=catalog_id)
    # Given on the command line: as typed. From the policy: relative to the project, so any folder works.
    path = Path(manifest_path) if manifest_path else resolve_project_path(policy.manifest)
    mapping = {s: db.name for db in policy.databases.values() for s in db.dbt_schemas}
    catalog = catalog_from_manifest(read_manifest(path), mapping, policy.meta_key, str(path))
    return policy, with_lake_tables(policy, catalog)


def check(policy: Policy, catalog: Catalog) -> list[Finding]:
    """Meaning checks. Errors make the policy unusable for plan/apply; warnings are printed only."""
    out: list[Finding] = []
    w = policy.where

    def err(where, msg):
        out.append(Finding(where, msg))

    def warn(where, msg):
        out.append(Finding(where, msg, "warning"))

    tags = policy.lf_tags

    def check_tag_pair(where, key, value):
        if key not in tags:
            err(where, f"unknown LF-Tag key '{key}' - declare it under lf_tags (known: {', '.join(sorted(tags))})")
        elif value not in tags[key]:
            err(where, f"unknown value '{value}' of LF-Tag '{key}' - allowed: {', '.join(tags[key])}")

    # Classification tag: must exist and carry every clearance level.
    ctag = policy.classification_tag
    if ctag not in tags:
        err(w("lf_tags"), f"column_classification.tag_key '{ctag}' is not declared under lf_tags - add it with values {', '.join(CLEARANCES)}")
    else:
        missing = [c for c in CLEARANCES if c not in tags[ctag]]
        if missing:
            err(w("lf_tags", ctag), f"LF-Tag '{ctag}' carries the column classification and must allow {', '.join(missing)}")

    # Databases and table tag rules.
    for name, db in policy.databases.items():
        for k, v in db.tags.items():
            check_tag_pair(w("databases", name, "tags", k), k, v)
        if not catalog.in_database(name):
            warn(w("databases", name), f"no dbt model lands in database '{name}' (dbt_schemas {list(db.dbt_schemas)}) in {catalog.source}")
    if not governs_quarantine(policy):
        warn(w("databases"), "lake_meta.quarantine (raw excerpts of rejected input: names, birth dates) is not governed - "
                             "add a database with `lake_database: lake_meta` so only phi-cleared principals read it")
    for i, rule in enumerate(policy.tables):
        for k, v in rule.tags.items():
            check_tag_pair(w("tables", i, "tags", k), k, v)
        db = rule.match.split(".", 1)[0]
        if db not in policy.databases:
            err(w("tables", i, "match"), f"'{rule.match}': database '{db}' is not under databases")
        elif not any(fnmatchcase(t, rule.match) for t in catalog.tables):
            warn(w("tables", i, "match"), f"'{rule.match}' matches no table in {catalog.source}")
    tagging = resolve_tags(policy, catalog)
    for fqn, key, values in tagging.conflicts:
        lines = ", ".join(f"'{v}' at line {ln}" for v, ln in values)
        err(f"{policy.file}:{values[-1][1]}", f"table {fqn} gets two values of LF-Tag '{key}' ({lines}); Lake Formation allows one value per key on a resource - make the rules disjoint")

    # A table with no value for a key that tag expressions use is invisible to those grants: say so.
    used_keys = {k for g in policy.grants if g.tag_expression for k, _ in g.tag_expression} - {ctag}
    for t in sorted(catalog.tables.values(), key=lambda t: t.fqn):
        missing = sorted(used_keys - set(tagging.effective_table(t)))
        if missing:
            warn(w("tables"), f"table {t.fqn} has no value for LF-Tag(s) {', '.join(missing)}, so tag-expression grants on "
                              "them do not reach it - add a rule under tables")

    # Manifest classifications.
    for t in sorted(catalog.tables.values(), key=lambda t: t.fqn):
        if not t.columns:
            warn(t.source_file, f"model {t.name} documents no columns, so none can be classified or granted - describe them in its YAML")
        for c in t.columns.values():
            if c.sensitivity is None:
                err(t.source_file, f"column {t.name}.{c.name} has no meta.{policy.meta_key} - classify it as {' | '.join(CLEARANCES)} (unclassified counts as phi)")
            elif c.sensitivity not in CLEARANCES:
                err(t.source_file, f"column {t.name}.{c.name}: meta.{policy.meta_key} '{c.sensitivity}' is not one of {', '.join(CLEARANCES)}")

    # Principals.
    seen_ids: dict[str, str] = {}
    for name, p in policy.principals.items():
        if p.identifier in seen_ids:
            err(w("principals", name), f"principal '{name}' has the same identity as '{seen_ids[p.identifier]}' ({p.identifier}) - merge them")
        seen_ids[p.identifier] = name
        if p.identifier in policy.unmanaged_principals:
            err(w("principals", name), f"principal '{name}' ({p.identifier}) is also listed under unmanaged - a principal is either managed or not")

    def check_principals(path, names):
        for j, pn in enumerate(names):
            if pn not in policy.principals:
                err(w(*path, j), f"unknown principal '{pn}' - declare it under principals")

    def unmanaged_resource(fqn: str) -> bool:
        return any(fnmatchcase(fqn, pat) or fnmatchcase(fqn.split(".", 1)[0], pat) for pat in policy.unmanaged_resources)

    def check_columns(path, t, names, label):
        for j, c in enumerate(names or ()):
            if c not in t.columns:
                err(w(*path, j), f"{label}: column '{c}' is not in {t.fqn} ({catalog.source}) - known: {', '.join(sorted(t.columns))}")

    # Grants.
    names_seen: dict[str, int] = {}
    for i, g in enumerate(policy.grants):
        here = ("grants", i)
        if g.name in names_seen:
            err(w(*here, "name"), f"grant name '{g.name}' is used twice (first at line {names_seen[g.name]}) - names identify grants in messages")
        names_seen.setdefault(g.name, g.line)
        check_principals(here + ("principals",), g.principals)
        if not g.grant_option <= g.permissions and "ALL" not in g.permissions:
            err(w(*here, "grant_option"), f"{g.label}: grant_option {sorted(g.grant_option - g.permissions)} must also be in permissions")
        if g.tag_expression is not None:
            for k, values in g.tag_expression:
                for v in values:
                    check_tag_pair(w(*here, "tag_expression", k), k, v)
            allowed = ALL_DATABASE | {"ALL"} if g.resource_type == "DATABASE" else TABLE_PERMISSIONS
            bad = g.permissions - allowed
            if bad:
                err(w(*here, "permissions"), f"{g.label}: {sorted(bad)} cannot be granted on {g.resource_type} tag expressions")
            if not g.tag_expression or all(len(v) == 0 for _, v in g.tag_expression):
                err(w(*here, "tag_expression"), f"{g.label}: empty tag expression")
        elif g.database is not None:
            if g.database not in policy.databases:
                err(w(*here, "database"), f"{g.label}: database '{g.database}' is not under databases")
            bad = g.permissions - (ALL_DATABASE | {"ALL"})
            if bad:
                err(w(*here, "permissions"), f"{g.label}: {sorted(bad)} are table permissions; grant them on a table or a tag expression")
            if unmanaged_resource(g.database):
                err(w(*here, "database"), f"{g.label}: database '{g.database}' is listed under unmanaged")
        elif g.table is not None:
            db, name = g.table.split(".", 1)
            if db not in policy.databases:
                err(w(*here, "table"), f"{g.label}: database '{db}' is not under databases")
            elif name != "*" and catalog.get(g.table) is None:
                err(w(*here, "table"), f"{g.label}: table {g.table} is not a dbt model in {catalog.source}")
            if unmanaged_resource(g.table):
                err(w(*here, "table"), f"{g.label}: {g.table} is listed under unmanaged")
            bad = g.permissions - TABLE_PERMISSIONS
            if bad:
                err(w(*here, "permissions"), f"{g.label}: {sorted(bad)} cannot be granted on a table")
            if g.columns is not None or g.exclude_columns is not None:
                if name == "*":
                    err(w(*here, "table"), f"{g.label}: column lists need one table, not {g.table}")
                extra = g.permissions - COLUMN_PERMISSIONS
                if extra:
                    err(w(*here, "permissions"), f"{g.label}: only SELECT can be granted on columns, not {sorted(extra)}")
                t = catalog.get(g.table)
                if t is not None:
                    key = "columns" if g.columns is not None else "exclude_columns"
                    check_columns(here + (key,), t, g.columns or g.exclude_columns, g.label)

    # Data cells filters.
    fnames: dict[tuple[str, str], int] = {}
    for i, f in enumerate(policy.filters):
        here = ("data_cells_filters", i)
        label = f"data cells filter '{f.name}'"
        fqn = f"{f.database}.{f.table}"
        if f.name in {n for (_, n) in fnames}:
            err(w(*here, "name"), f"{label}: the name is used by another filter - filter names must be unique in the policy")
        fnames[(fqn, f.name)] = f.line
        check_principals(here + ("principals",), f.principals)
        t = catalog.get(fqn)
        if f.database not in policy.databases:
            err(w(*here, "table"), f"{label}: database '{f.database}' is not under databases")
            continue
        if t is None:
            err(w(*here, "table"), f"{label}: table {fqn} is not a dbt model in {catalog.source}")
            continue
        key = "columns" if f.columns is not None else "exclude_columns"
        check_columns(here + (key,), t, f.columns or f.exclude_columns, label)
        if f.parsed is not None:
            check_row_filter(f.parsed, t, lambda msg: err(w(*here, "row_filter"), f"{label}: row_filter {msg}"),
                             lambda msg: warn(w(*here, "row_filter"), f"{label}: row_filter {msg}"))

    # The security invariant, checked last so its messages come after the basic ones they may depend on.
    for v in clearance_violations(policy, catalog, tagging):
        out.append(Finding(f"{policy.file}:{v.grant.line}", v.message(policy).split(": ", 1)[1]))
    # ... and its delegation half: grant options and write permissions on tables with phi columns.
    for d in delegation_findings(policy, catalog, tagging):
        out.append(Finding(f"{policy.file}:{d.grant.line}", d.message, d.level))
    return out


def column_family(data_type: str | None) -> str | None:
    """string | number | boolean | complex | other (date, timestamp, binary, ...) | None (type not declared)."""
    t = (data_type or "").strip().lower()
    if not t:
        return None
    if t.startswith(("array", "map", "struct", "row(", "list", "union")) or t.endswith("]"):
        return "complex"
    base = re.split(r"[\s(<]", t, maxsplit=1)[0]
    if base in ("varchar", "char", "string", "text", "character"):
        return "string"
    if base in ("tinyint", "smallint", "int", "integer", "bigint", "long", "hugeint", "float", "double", "real",
                "decimal", "numeric"):
        return "number"
    if base in ("boolean", "bool"):
        return "boolean"
    return "other"


def check_row_filter(rf: RowFilter, table, error, warning) -> None:
    """The canonical filter against the table: its columns exist, are of a type Lake Formation row filters
    accept (string, numeric, boolean), and are compared with constants of their own type."""
    seen: set[str] = set()

    def once(report, msg):
        if msg not in seen:
            seen.add(msg)
            report(msg)

    error_once, warning_once = (lambda m: once(error, m)), (lambda m: once(warning, m))
    for comp in rf.comparisons:
        col = table.columns.get(comp.column)
        if col is None:
            error_once(f"references '{comp.column}', which is not a column of {table.fqn} - known: {', '.join(sorted(table.columns))}")
            continue
        family = column_family(col.data_type)
        if family in ("complex", "other"):
            error_once(f"references '{comp.column}' of type {col.data_type}; Lake Formation row filters cannot use array, "
                  "map, struct, date or timestamp columns (string, numeric and boolean only) - filter on another column")
            continue
        if family is None:
            warning_once(f"cannot check the type of '{comp.column}' (no data_type in the manifest) - declare it in the model's contract")
            continue
        if comp.like and family != "string":
            error_once(f"uses LIKE on '{comp.column}' ({col.data_type}); LIKE needs a string column")
        for kind in sorted(set(comp.kinds) - {family}):
            error_once(f"compares '{comp.column}' ({col.data_type}) with a {kind}; Lake Formation needs a constant of the "
                  f"column's type (a {family})")


def validate(policy_path, manifest_path=None, catalog_id=None) -> tuple[Policy, Catalog, list[Finding]]:
    """Load and check; raises PolicyError listing every error (warnings are returned with the result)."""
    policy, catalog = load(policy_path, manifest_path, catalog_id)
    findings = check(policy, catalog)
    errors = [str(f) for f in findings if f.level == "error"]
    if errors:
        raise PolicyError(errors)
    return policy, catalog, findings
