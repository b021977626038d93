"""Desired vs live -> a list of changes: plain set difference (to add / to drop / to change), like
dbt-athena's LF reconcile, then `+ / - / ~` lines grouped by principal, like Terraform and Permifrost."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from mmhealth.governance.desired import Scope
from mmhealth.governance.state import Atom, State

PLAN_FORMAT = "mmhealth-govern-plan"
PLAN_VERSION = 1
GROUP_TAGS = "LF-Tags"
GROUP_RESOURCE_TAGS = "Resource tags"
GROUP_FILTERS = "Data cells filters"


@dataclass
class Change:
    action: str  # "+", "-", "~"
    kind: str  # lf_tag | resource_tag | filter | permission
    group: str  # principal's full ARN (with any IAM path), or one of the GROUP_* names
    text: str  # what a reviewer reads
    payload: dict = field(default_factory=dict)  # everything apply needs, so a saved plan is self-contained


@dataclass
class Plan:
    catalog_id: str
    state_sha256: str
    policy_file: str
    scope: dict
    changes: list[Change]
    warnings: list[str] = field(default_factory=list)
    principal_names: dict[str, str] = field(default_factory=dict)  # full ARN (as in Change.group) -> policy name
    implicit: int = 0
    out_of_scope: int = 0
    created: str = ""

    @property
    def counts(self) -> dict[str, int]:
        return {a: sum(1 for c in self.changes if c.action == a) for a in "+~-"}

    def to_json(self) -> dict:
        return {
            "format": PLAN_FORMAT, "version": PLAN_VERSION, "created": self.created, "catalog_id": self.catalog_id,
            "policy_file": self.policy_file, "state_sha256": self.state_sha256, "scope": self.scope,
            "summary": {"add": self.counts["+"], "change": self.counts["~"], "remove": self.counts["-"],
                        "implicit_ignored": self.implicit, "out_of_scope": self.out_of_scope},
            "warnings": self.warnings, "principal_names": self.principal_names,
            "changes": [asdict(c) for c in self.changes],
        }

    @classmethod
    def from_json(cls, d: dict) -> "Plan":
        if d.get("format") != PLAN_FORMAT or d.get("version") != PLAN_VERSION:
            raise ValueError(f"not a {PLAN_FORMAT} v{PLAN_VERSION} file")
        return cls(
            catalog_id=d["catalog_id"], state_sha256=d["state_sha256"], policy_file=d["policy_file"], scope=d["scope"],
            changes=[Change(**c) for c in d["changes"]], warnings=d.get("warnings", []),
            principal_names=d.get("principal_names", {}), implicit=d["summary"]["implicit_ignored"],
            out_of_scope=d["summary"]["out_of_scope"], created=d.get("created", ""),
        )


def scope_to_json(scope: Scope) -> dict:
    return {"catalog_id": scope.catalog_id, "databases": sorted(scope.databases),
            "tables": {k: list(v) for k, v in scope.tables.items()}, "tag_keys": sorted(scope.tag_keys),
            "unmanaged_principals": sorted(scope.unmanaged_principals),
            "unmanaged_resources": list(scope.unmanaged_resources)}


def scope_from_json(d: dict) -> Scope:
    return Scope(d["catalog_id"], frozenset(d["databases"]), {k: tuple(v) for k, v in d["tables"].items()},
                 frozenset(d["tag_keys"]), frozenset(d["unmanaged_principals"]), tuple(d["unmanaged_resources"]))


def implicit_atoms(live: set[Atom], desired: set[Atom]) -> set[Atom]:
    """DESCRIBE rows Lake Formation adds on its own: on a table when its columns or a filter on it are granted,
    on a database when something inside it is. Ignored unless the policy asks for them."""
    touched_tables = {(a.principal, a.res.database, a.res.table) for a in live if a.res.kind in ("columns", "filter")}
    touched_dbs = {(a.principal, a.res.database) for a in live if a.res.kind in ("columns", "filter", "table")}
    out = set()
    for a in live - desired:
        if a.permission != "DESCRIBE" or a.grantable:
            continue
        if a.res.kind == "table" and (a.principal, a.res.database, a.res.table) in touched_tables:
            out.add(a)
        elif a.res.kind == "database" and (a.principal, a.res.database) in touched_dbs:
            out.add(a)
    return out


def _tags_text(tags: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(tags.items())) or "(none)"


def _tag_resource(name: str, catalog_id: str, columns: list[str] | None = None) -> dict:
    parts = name.split(".")
    if len(parts) == 1:
        return {"Database": {"CatalogId": catalog_id, "Name": parts[0]}}
    if columns is None:
        return {"Table": {"CatalogId": catalog_id, "DatabaseName": parts[0], "Name": parts[1]}}
    return {"TableWithColumns": {"CatalogId": catalog_id, "DatabaseName": parts[0], "Name": parts[1], "ColumnNames": columns}}


def _tag_change(name: str, want: dict, have: dict, catalog_id: str, columns: list[str] | None) -> Change | None:
    if want == have:
        return None
    action = "+" if not have else "-" if not want else "~"
    unset = {k: v for k, v in have.items() if k not in want}
    label = f"{name} columns ({', '.join(columns)})" if columns else name
    if action == "~":
        text = f"{label}: {_tags_text(have)} -> {_tags_text(want)}"
    else:
        text = f"{label}: {_tags_text(want or have)}"
    return Change(action, "resource_tag", GROUP_RESOURCE_TAGS, text, {
        "resource": _tag_resource(name, catalog_id, columns),
        # The whole wanted set, not just what moved: some endpoints (moto) replace a resource's tags on add.
        "set": [{"TagKey": k, "TagValues": [v]} for k, v in sorted(want.items())],
        "unset": [{"TagKey": k, "TagValues": [v]} for k, v in sorted(unset.items())],
    })


def _perm_payload(a: Atom, catalog_id: str, spelling: dict[str, str]) -> dict:
    return {"principal": spelling.get(a.principal, a.principal), "resource": a.res.to_api(catalog_id), "resource_key": a.res.key,
            "permission": a.permission, "grantable": a.grantable}


def full_arn(canonical: str, desired: State, live: State) -> str:
    """The principal as a reviewer must see it: the ARN as the policy writes it (with its IAM path, e.g.
    role/mmhealth/clinicians), else as Lake Formation lists it; states compare on the path-less form."""
    return desired.spelling.get(canonical) or live.spelling.get(canonical) or canonical


def diff(desired: State, live: State, scope: Scope) -> tuple[list[Change], int]:
    """Changes that turn `live` into `desired`, in apply order; and how many implicit rows were ignored."""
    cat = scope.catalog_id
    changes: list[Change] = []

    for key in sorted(desired.lf_tags):
        want, have = desired.lf_tags[key], live.lf_tags.get(key)
        if have is None:
            changes.append(Change("+", "lf_tag", GROUP_TAGS, f"{key}: {', '.join(sorted(want))}",
                                  {"key": key, "create": sorted(want)}))
        elif want != have:
            add, drop = sorted(want - have), sorted(have - want)
            text = f"{key}: " + " ".join([f"+{v}" for v in add] + [f"-{v}" for v in drop])
            changes.append(Change("~", "lf_tag", GROUP_TAGS, text, {"key": key, "add": add, "delete": drop}))

    for name in sorted(n for n in desired.resource_tags if n.count(".") < 2):
        c = _tag_change(name, desired.resource_tags[name], live.resource_tags.get(name, {}), cat, None)
        if c:
            changes.append(c)
    # Column tags: one change per table and (wanted, held) pair, so 5,000 columns are not 5,000 calls.
    by_table: dict[tuple[str, tuple, tuple], list[str]] = defaultdict(list)
    for name in sorted(n for n in desired.resource_tags if n.count(".") == 2):
        want, have = desired.resource_tags[name], live.resource_tags.get(name, {})
        if want != have:
            fqn, col = name.rsplit(".", 1)
            by_table[(fqn, tuple(sorted(want.items())), tuple(sorted(have.items())))].append(col)
    for (fqn, want, have), cols in sorted(by_table.items()):
        c = _tag_change(fqn, dict(want), dict(have), cat, cols)
        if c:
            changes.append(c)

    for key in sorted(set(desired.filters) | set(live.filters)):
        want, have = desired.filters.get(key), live.filters.get(key)
        if want == have:
            continue
        if have is None:
            changes.append(Change("+", "filter", GROUP_FILTERS, f"{key}: {want.describe()}", {"table_data": want.to_api(cat)}))
        elif want is None:
            changes.append(Change("-", "filter", GROUP_FILTERS, f"{key}: {have.describe()}", {"table_data": have.to_api(cat)}))
        else:
            changes.append(Change("~", "filter", GROUP_FILTERS, f"{key}: {have.describe()} -> {want.describe()}",
                                  {"table_data": want.to_api(cat)}))

    implicit = implicit_atoms(live.permissions, desired.permissions)
    have_atoms = live.permissions - implicit
    want_by = {(a.principal, a.res, a.permission): a for a in desired.permissions}
    have_by = {(a.principal, a.res, a.permission): a for a in have_atoms}
    for k in sorted(set(want_by) | set(have_by), key=lambda k: (k[0], k[1].key, k[2])):
        want, have = want_by.get(k), have_by.get(k)
        if want and have and want.grantable == have.grantable:
            continue
        canonical, res, perm = k
        principal = full_arn(canonical, desired, live)
        if want and have:
            flip = "on -> off" if have.grantable else "off -> on"
            changes.append(Change("~", "permission", principal, f"{perm} on {res.key} (grant option {flip})",
                                  {**_perm_payload(want, cat, desired.spelling), "was_grantable": have.grantable}))
        elif want:
            suffix = " WITH GRANT OPTION" if want.grantable else ""
            changes.append(Change("+", "permission", principal, f"{perm} on {res.key}{suffix}", _perm_payload(want, cat, desired.spelling)))
        else:
            suffix = " WITH GRANT OPTION" if have.grantable else ""
            changes.append(Change("-", "permission", principal, f"{perm} on {res.key}{suffix}", _perm_payload(have, cat, live.spelling)))
    return changes, len(implicit)


def make_plan(desired: State, live_read, scope: Scope, policy_file: str, principal_names: dict[str, str]) -> Plan:
    changes, implicit = diff(desired, live_read.state, scope)
    names = {full_arn(ident, desired, live_read.state): name for ident, name in principal_names.items()}
    return Plan(
        catalog_id=scope.catalog_id, state_sha256=live_read.state.digest(), policy_file=policy_file,
        scope=scope_to_json(scope), changes=changes, warnings=list(live_read.warnings),
        principal_names=names, implicit=implicit, out_of_scope=live_read.out_of_scope,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )


def _groups(plan: Plan):
    order = [GROUP_TAGS, GROUP_RESOURCE_TAGS, GROUP_FILTERS]
    grouped: dict[str, list[Change]] = defaultdict(list)
    for c in plan.changes:
        grouped[c.group].append(c)
    principals = sorted((g for g in grouped if g not in order), key=lambda g: (plan.principal_names.get(g, "~"), g))
    for g in order + principals:
        if g in grouped:
            if g in order:
                title = g
            else:
                name = plan.principal_names.get(g)
                title = f"Principal {name} ({g})" if name else f"Principal {g} (not in the policy)"
            yield title, grouped[g]


def summary_line(plan: Plan) -> str:
    n = plan.counts
    if not plan.changes:
        return "No changes. Lake Formation matches the policy."
    return f"Plan: {n['+']} to add, {n['~']} to change, {n['-']} to remove."


def render_text(plan: Plan) -> str:
    lines = []
    for title, changes in _groups(plan):
        lines.append(title)
        lines.extend(f"  {c.action} {c.text}" for c in changes)
        lines.append("")
    for w in plan.warnings:
        lines.append(f"warning: {w}")
    lines.append(summary_line(plan) + f" ({plan.implicit} implicit grant(s) ignored, "
                 f"{plan.out_of_scope} permission row(s) outside the governed scope left alone)")
    return "\n".join(lines)


def render_markdown(plan: Plan, max_lines: int = 400) -> str:
    n = plan.counts
    out = ["### Lake Formation plan", "",
           f"Catalog `{plan.catalog_id}` · policy `{plan.policy_file}` · live state `{plan.state_sha256[:12]}`", ""]
    if not plan.changes:
        out.append("**No changes.** Lake Formation matches the policy.")
    else:
        out += ["| | count |", "|---|---:|", f"| add | {n['+']} |", f"| change | {n['~']} |", f"| remove | {n['-']} |", ""]
        out += ["| group | + | ~ | - |", "|---|---:|---:|---:|"]
        for title, changes in _groups(plan):
            c = {a: sum(1 for x in changes if x.action == a) for a in "+~-"}
            out.append(f"| {title.replace('|', '/')} | {c['+']} | {c['~']} | {c['-']} |")
        body = render_text(plan).splitlines()
        shown = body[:max_lines]
        out += ["", "<details><summary>Changes</summary>", "", "```diff"]
        out += [ln.replace("  ~ ", "! ", 1).lstrip() if ln.startswith("  ") else f"# {ln}" if ln else ln for ln in shown]
        if len(body) > max_lines:
            out.append(f"# ... {len(body) - max_lines} more lines: run `mmhealth govern plan` for all")
        out += ["```", "", "</details>"]
    if plan.warnings:
        out += ["", "**Warnings**", ""] + [f"- {w}" for w in plan.warnings]
    return "\n".join(out) + "\n"


def dumps(plan: Plan) -> str:
    return json.dumps(plan.to_json(), indent=2, sort_keys=False) + "\n"
