"""The access review artifact: principal x table x columns x row filter, each column with its classification
and the grants that give it; and who can hand which table on (grant options) or change it (write
permissions), with the phi tables among them and the reason the policy gives for each exception."""

from __future__ import annotations

import json

from mmhealth.governance.access import access_matrix, delegations
from mmhealth.governance.manifest import Catalog
from mmhealth.governance.policy import Policy


def _principals(policy: Policy, only):
    names = sorted(policy.principals) if not only else only
    from mmhealth.errors import MMHealthError

    unknown = [n for n in names if n not in policy.principals]
    if unknown:
        raise MMHealthError(f"{policy.file}: unknown principal(s) {unknown} - choose from {sorted(policy.principals)}")
    return names


def access_records(policy: Policy, catalog: Catalog, only=None) -> list[dict]:
    matrix = access_matrix(policy, catalog)
    rows = []
    for name in _principals(policy, only):
        p = policy.principals[name]
        for fqn, ta in sorted(matrix[name].items()):
            for col, ca in sorted(ta.columns.items()):
                rows.append({"principal": name, "identifier": p.identifier, "clearance": p.clearance, "table": fqn,
                             "column": col, "classification": ca.classification,
                             "rows": "all" if ca.rows is None else " OR ".join(ca.rows), "via": list(ca.via)})
    return rows


def delegation_records(policy: Policy, catalog: Catalog, only=None) -> list[dict]:
    """One row per principal, table and kind (regrant / write): the permissions, the grants, whether the
    table holds phi columns and, when it does, the reason the policy gives (None: refused by validate)."""
    names = set(_principals(policy, only))
    merged: dict[tuple[str, str, str], dict] = {}
    for d in delegations(policy, catalog):
        if d.principal not in names:
            continue
        row = merged.setdefault((d.principal, d.table, d.kind), {
            "principal": d.principal, "clearance": d.clearance, "table": d.table, "kind": d.kind,
            "permissions": set(), "phi_columns": list(d.phi_columns), "via": set(), "reasons": set()})
        row["permissions"].update(d.permissions)
        row["via"].add(d.grant.name)
        if d.phi_columns and d.allowed and d.grant.reason:
            row["reasons"].add(" ".join(d.grant.reason.split()))
    return [{**r, "permissions": sorted(r["permissions"]), "via": sorted(r["via"]), "reasons": sorted(r["reasons"])}
            for _, r in sorted(merged.items())]


def access_json(policy: Policy, catalog: Catalog, only=None) -> str:
    return json.dumps({"policy": policy.file, "manifest": catalog.source, "access": access_records(policy, catalog, only),
                       "delegation": delegation_records(policy, catalog, only)}, indent=2) + "\n"


def access_markdown(policy: Policy, catalog: Catalog, only=None) -> str:
    matrix = access_matrix(policy, catalog)
    delegated: dict[str, list[dict]] = {}
    for r in delegation_records(policy, catalog, only):
        delegated.setdefault(r["principal"], []).append(r)
    out = ["# Effective Lake Formation access", "",
           f"Policy `{policy.file}`, models from `{catalog.source}`. Columns are marked with their classification "
           "(**phi**, internal, public); rows are all rows unless a data cells filter limits them.", ""]
    for name in _principals(policy, only):
        p = policy.principals[name]
        out += [f"## {name} ({p.type}, clearance {p.clearance})", "", f"`{p.identifier}`", ""]
        if not matrix[name]:
            out += ["No table access.", ""]
            continue
        out += ["| table | columns | rows | via |", "|---|---|---|---|"]
        for fqn, ta in sorted(matrix[name].items()):
            t = catalog.get(fqn)
            cols = []
            for col in sorted(ta.columns):
                c = ta.columns[col]
                label = f"**{col}** (phi)" if c.classification == "phi" else f"{col} ({c.classification or 'unclassified'})"
                if c.rows is not None and c.rows != ta.row_filter:
                    label += f" [rows: {' OR '.join(c.rows)}]"
                cols.append(label)
            hidden = len(t.columns) - len(ta.columns)
            if hidden:
                cols.append(f"_{hidden} column(s) hidden_")
            rows = "all" if ta.row_filter is None else " OR ".join(f"`{r}`" for r in ta.row_filter)
            via = ", ".join(sorted({v for c in ta.columns.values() for v in c.via}))
            out.append(f"| {fqn} | {', '.join(cols)} | {rows} | {via} |")
        out.append("")
        if delegated.get(name):
            out += ["**Can re-grant (grant option) or change (write permissions):**", "",
                    "| table | kind | permissions | via | phi |", "|---|---|---|---|---|"]
            exceptions: dict[str, str] = {}
            for r in delegated[name]:
                table = f"**{r['table']}**" if r["phi_columns"] else r["table"]
                kind = "re-grant" if r["kind"] == "regrant" else "write"
                if not r["phi_columns"]:
                    phi = "no phi columns"
                elif r["reasons"]:
                    phi = f"{len(r['phi_columns'])} phi column(s); allowed by the policy (reason below)"
                    for g in r["via"]:
                        exceptions.setdefault(g, "; ".join(r["reasons"]))
                else:
                    phi = f"{len(r['phi_columns'])} phi column(s); **refused by validate**"
                out.append(f"| {table} | {kind} | {', '.join(r['permissions'])} | {', '.join(r['via'])} | {phi} |")
            out.append("")
            out += [f"- `{g}`: {why}" for g, why in sorted(exceptions.items())] + ([""] if exceptions else [])
    return "\n".join(out)
