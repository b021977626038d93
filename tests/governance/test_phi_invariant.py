"""Property-based tests of the PHI invariant: over generated policies (tag expressions, named table and column
grants, data cells filters, random clearances), `validate` must reject exactly the policies in which some
principal reaches a column above its clearance, and name every such grant. The oracle below re-derives
reachability from Lake Formation's rules independently of `access.py`."""

from __future__ import annotations

import json

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmhealth.governance.access import clearance_violations
from mmhealth.governance.manifest import catalog_from_manifest
from mmhealth.governance.policy import PolicyError, loads_policy
from mmhealth.governance.validate import check

from .conftest import FIXTURES

RANK = {"public": 0, "internal": 1, "phi": 2}
TAGS = {"sensitivity": ["phi", "internal", "public"], "modality": ["clinical", "genomic", "imaging", "multimodal"],
        "layer": ["marts", "features"]}
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text())
TABLES = {n["name"]: {c: (m["meta"]["sensitivity"], m["data_type"]) for c, m in n["columns"].items()}
          for n in MANIFEST["nodes"].values() if n.get("schema") == "mmhealth_marts" and n["resource_type"] == "model"}
NAMES = sorted(TABLES)


@st.composite
def policies(draw):
    principals = {f"p{i}": draw(st.sampled_from(list(RANK))) for i in range(draw(st.integers(1, 4)))}
    modality = {t: draw(st.sampled_from(TAGS["modality"])) for t in NAMES if draw(st.booleans())}
    layer = draw(st.sampled_from(TAGS["layer"]))
    grants, filters = [], []
    for i in range(draw(st.integers(1, 6))):
        who = draw(st.lists(st.sampled_from(sorted(principals)), min_size=1, max_size=3, unique=True))
        perms = draw(st.sampled_from([["SELECT"], ["DESCRIBE"], ["ALL"], ["SELECT", "DESCRIBE"]]))
        kind = draw(st.sampled_from(["tags", "table", "columns", "exclude", "filter"]))
        table = draw(st.sampled_from(NAMES))
        cols = sorted(TABLES[table])
        if kind == "tags":
            keys = draw(st.lists(st.sampled_from(sorted(TAGS)), min_size=1, max_size=3, unique=True))
            expr = {k: draw(st.lists(st.sampled_from(TAGS[k]), min_size=1, unique=True)) for k in keys}
            grants.append({"name": f"g{i}", "principals": who, "tag_expression": expr, "permissions": perms})
        elif kind == "table":
            grants.append({"name": f"g{i}", "principals": who, "table": f"db.{table}", "permissions": perms})
        elif kind in ("columns", "exclude"):
            pick = draw(st.lists(st.sampled_from(cols), min_size=1, max_size=len(cols) - 1 or 1, unique=True))
            grants.append({"name": f"g{i}", "principals": who, "table": f"db.{table}",
                           "columns" if kind == "columns" else "exclude_columns": pick, "permissions": ["SELECT"]})
        else:
            # Any predicate in the subset will do: the invariant counts columns, not rows.
            scalar = next(c for c in cols if TABLES[table][c][1] == "varchar")
            f = {"name": f"f{i}", "table": f"db.{table}", "row_filter": f"{scalar} IS NOT NULL", "principals": who}
            how = draw(st.sampled_from([None, "columns", "exclude_columns"]))
            if how:
                f[how] = draw(st.lists(st.sampled_from(cols), min_size=1, max_size=len(cols) - 1 or 1, unique=True))
            filters.append(f)
    doc = {
        "version": 1, "catalog_id": "123456789012", "lf_tags": TAGS,
        "databases": {"db": {"dbt_schemas": ["mmhealth_marts"], "tags": {"layer": layer}}},
        "tables": [{"match": f"db.{t}", "tags": {"modality": m}} for t, m in sorted(modality.items())],
        "principals": {p: {"type": "iam_role", "arn": f"arn:aws:iam::123456789012:role/{p}", "clearance": c}
                       for p, c in principals.items()},
        "grants": grants, "data_cells_filters": filters,
    }
    return doc


def oracle(doc) -> set[tuple[str, str, str, str]]:
    """(principal, table, column, grant or filter name) for every read above clearance."""
    layer = doc["databases"]["db"]["tags"]["layer"]
    modality = {r["match"].split(".", 1)[1]: r["tags"]["modality"] for r in doc["tables"]}
    leaks = set()

    def reach(who, table, columns, name):
        for p in who:
            for c in columns:
                if RANK[TABLES[table][c][0]] > RANK[doc["principals"][p]["clearance"]]:
                    leaks.add((p, f"db.{table}", c, name))

    for g in doc["grants"]:
        if not {"SELECT", "ALL"} & set(g["permissions"]):
            continue
        if "tag_expression" in g:
            for t in NAMES:
                for c, (sens, _) in TABLES[t].items():
                    tags = {"layer": layer, "sensitivity": sens, "modality": modality.get(t)}
                    if all(tags[k] in vals for k, vals in g["tag_expression"].items()):
                        reach(g["principals"], t, [c], g["name"])
        else:
            t = g["table"].split(".", 1)[1]
            cols = g.get("columns") or [c for c in TABLES[t] if c not in g.get("exclude_columns", [])]
            reach(g["principals"], t, cols, g["name"])
    for f in doc["data_cells_filters"]:
        t = f["table"].split(".", 1)[1]
        cols = f.get("columns") or [c for c in TABLES[t] if c not in f.get("exclude_columns", [])]
        reach(f["principals"], t, cols, f["name"])
    return leaks


def load(doc):
    policy = loads_policy(yaml.safe_dump(doc, sort_keys=False), "generated.yml")
    catalog = catalog_from_manifest(MANIFEST, {"mmhealth_marts": "db"}, "sensitivity", "manifest.json")
    return policy, catalog


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies())
def test_validate_rejects_exactly_the_policies_that_leak(doc):
    policy, catalog = load(doc)
    expected = oracle(doc)
    found = {(v.principal, v.table, v.column, v.grant.via_filter or v.grant.name)
             for v in clearance_violations(policy, catalog)}
    assert found == expected
    errors = [str(f) for f in check(policy, catalog) if f.level == "error"]
    leak_errors = [e for e in errors if " lets principal " in e]
    assert bool(leak_errors) == bool(expected)
    for p, table, column, name in expected:
        assert any(f"'{name}'" in e and f"principal '{p}'" in e and f"{table}.{column} " in e for e in leak_errors)


@settings(max_examples=60, deadline=None)
@given(policies())
def test_restricting_every_grant_by_clearance_makes_any_policy_safe(doc):
    """Give every principal its own copy of each grant narrowed to its clearance (a tag expression on the
    classification tag); whatever else the grant said, nothing leaks."""
    safe = []
    for g in doc["grants"]:
        for p in g["principals"]:
            allowed = [lvl for lvl, r in RANK.items() if r <= RANK[doc["principals"][p]["clearance"]]]
            expr = dict(g.get("tag_expression") or {"layer": ["marts", "features"]})
            expr["sensitivity"] = [v for v in expr.get("sensitivity", allowed) if v in allowed] or allowed
            safe.append({"name": f"{g['name']}_{p}", "principals": [p], "tag_expression": expr, "permissions": g["permissions"]})
    doc = {**doc, "grants": safe, "data_cells_filters": []}
    policy, catalog = load(doc)
    assert clearance_violations(policy, catalog) == []
    assert not oracle(doc)


def test_generated_policy_round_trips_through_the_cli_validator(tmp_path):
    """One concrete leaking policy end to end: PolicyError lists the grant with the generated file's line."""
    doc = {"version": 1, "lf_tags": TAGS, "databases": {"db": {"dbt_schemas": ["mmhealth_marts"]}},
           "principals": {"ds": {"type": "iam_role", "arn": "arn:aws:iam::123456789012:role/ds", "clearance": "internal"}},
           "grants": [{"name": "everything", "principals": ["ds"], "tag_expression": {"sensitivity": ["phi"]},
                       "permissions": ["SELECT"]}]}
    path = tmp_path / "p.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    mpath = tmp_path / "m.json"
    mpath.write_text(json.dumps({"nodes": {k: v for k, v in MANIFEST["nodes"].items() if v.get("schema") == "mmhealth_marts"}}))
    from mmhealth.governance.validate import validate

    try:
        validate(path, mpath)
    except PolicyError as err:
        line = next(i for i, ln in enumerate(path.read_text().splitlines(), 1) if "name: everything" in ln)
        assert any(m.startswith(f"{path}:{line}: grant 'everything'") for m in err.findings), err.findings
    else:
        raise AssertionError("a grant of every phi column to an internal principal must be rejected")
