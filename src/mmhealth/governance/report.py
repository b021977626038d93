"""The access review artifact: principal x table x columns x row filter, each column with its classification
and the grants that give it."""

from __future__ import annotations

import json

from mmhealth.governance.access import access_matrix
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


def access_json(policy: Policy, catalog: Catalog, only=None) -> str:
    return json.dumps({"policy": policy.file, "manifest": catalog.source, "access": access_records(policy, catalog, only)},
                      indent=2) + "\n"


def access_markdown(policy: Policy, catalog: Catalog, only=None) -> str:
    matrix = access_matrix(policy, catalog)
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
    return "\n".join(out)
