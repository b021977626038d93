"""The PHI invariant covers delegation: a grant option (the principal can re-grant, outside the policy) or a
write permission on a table with phi columns is refused by `validate` unless the principal is phi-cleared AND
the grant says `allow_phi_regrant: true` / `allow_phi_write: true` with a reason; `govern access` shows who
can re-grant or change what."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmhealth.cli import main
from mmhealth.governance.policy import PolicyError
from mmhealth.governance.validate import check, validate

from .conftest import FIXTURES
from .test_phi_invariant import NAMES, RANK, TABLES, TAGS, load

MANIFEST = FIXTURES / "manifest.json"
REASON = "Approved by the data protection officer, ticket GOV-42: onboarding of new clinical teams."


def write(tmp_path, mutate, name="policy.yml"):
    data = yaml.safe_load((FIXTURES / "policy.yml").read_text())
    data["manifest"] = str(MANIFEST)
    mutate(data)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def grant(data, name):
    return next(g for g in data["grants"] if g["name"] == name)


def findings(path) -> list[str]:
    with pytest.raises(PolicyError) as err:
        validate(path)
    return err.value.findings


def at_grant(path, finding, name) -> bool:
    """The finding points at the grant's own line (`- name: ...`)."""
    line = int(re.match(rf"{re.escape(str(path))}:(\d+): ", finding).group(1))
    return f"name: {name}" in path.read_text().splitlines()[line - 1]


def test_grant_option_on_a_phi_table_without_the_exception_fails(tmp_path):
    path = write(tmp_path, lambda d: grant(d, "clinicians_all_marts").update(grant_option=["SELECT"]))
    [f] = findings(path)
    assert "grant 'clinicians_all_marts' gives principal 'clinicians' (clearance phi) SELECT WITH GRANT OPTION" in f
    assert "dim_patient" in f and "re-grant PHI" in f and "allow_phi_regrant: true with a reason" in f
    assert at_grant(path, f, "clinicians_all_marts")


def test_the_exception_needs_a_reason(tmp_path):
    path = write(tmp_path, lambda d: grant(d, "clinicians_all_marts").update(grant_option=["SELECT"], allow_phi_regrant=True))
    [f] = findings(path)
    assert "need a `reason`" in f


def test_the_exception_with_a_reason_passes_and_access_shows_the_re_granter(tmp_path, capsys):
    path = write(tmp_path, lambda d: grant(d, "clinicians_all_marts").update(
        grant_option=["SELECT"], allow_phi_regrant=True, reason=REASON))
    _, _, found = validate(path)
    assert not [f for f in found if f.level == "error"]
    assert main(["govern", "access", "--policy", str(path), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["delegation"]
    dim = next(r for r in rows if r["principal"] == "clinicians" and r["table"] == "mmhealth_marts.dim_patient")
    assert dim["kind"] == "regrant" and dim["permissions"] == ["SELECT"] and dim["via"] == ["clinicians_all_marts"]
    assert dim["phi_columns"] == ["birth_date", "patient_id", "postal_code"] and dim["reasons"] == [REASON]
    # nobody else can hand anything on
    assert {r["principal"] for r in rows} == {"clinicians"}
    assert main(["govern", "access", "--policy", str(path), "--principal", "clinicians"]) == 0
    md = capsys.readouterr().out
    assert "**Can re-grant (grant option) or change (write permissions):**" in md
    assert "| **mmhealth_marts.dim_patient** | re-grant | SELECT | clinicians_all_marts | 3 phi column(s); allowed" in md
    assert f"- `clinicians_all_marts`: {REASON}" in md


def test_the_exception_cannot_lift_a_principal_below_phi(tmp_path):
    """Internal-cleared data scientists with a grant narrowed to non-phi columns still hold a grant option on
    tables that carry phi columns: refused, flag or not."""
    def mutate(d):
        grant(d, "data_science_deidentified").update(grant_option=["SELECT"], allow_phi_regrant=True, reason=REASON)
    path = write(tmp_path, mutate)
    [f] = findings(path)
    assert "principal 'data_scientists' (clearance internal)" in f and "only a phi-cleared principal may hold it" in f


def test_grant_option_on_tables_without_phi_columns_is_fine_and_listed(tmp_path, capsys):
    path = write(tmp_path, lambda d: grant(d, "analysts_population_clinical").update(grant_option=["SELECT"]))
    validate(path)
    assert main(["govern", "access", "--policy", str(path), "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)["delegation"]
    assert row["principal"] == "quicksight_analysts" and row["table"] == "mmhealth_marts.population_clinical"
    assert row["phi_columns"] == [] and row["reasons"] == []


@pytest.mark.parametrize("mutate, principal, perms", [
    (lambda d: d["grants"].append({"name": "clinicians_write", "principals": ["clinicians"],
                                   "table": "mmhealth_marts.dim_patient", "permissions": ["INSERT", "DELETE"]}),
     "clinicians", "DELETE, INSERT"),
    (lambda d: d["grants"].append({"name": "clinicians_write", "principals": ["clinicians"],
                                   "table": "mmhealth_marts.*", "permissions": ["ALL"]}), "clinicians", "ALL"),
    (lambda d: d["grants"].append({"name": "clinicians_write", "principals": ["clinicians"],
                                   "database": "mmhealth_marts", "permissions": ["DROP"]}), "clinicians", "DROP"),
    (lambda d: d["grants"].append({"name": "clinicians_write", "principals": ["bioinformaticians"],
                                   "tag_expression": {"modality": ["genomic"]}, "permissions": ["ALTER"]}),
     "bioinformaticians", "ALTER"),
])
def test_write_permissions_on_phi_tables_are_reported_the_same_way(tmp_path, mutate, principal, perms):
    path = write(tmp_path, mutate)
    hits = [f for f in findings(path) if "could change or destroy PHI" in f]
    assert len(hits) == 1 and f"principal '{principal}'" in hits[0] and f") {perms} on " in hits[0], hits
    assert at_grant(path, hits[0], "clinicians_write")


def test_write_exception_for_a_phi_principal(tmp_path):
    def mutate(d):
        d["grants"].append({"name": "clinicians_write", "principals": ["clinicians"], "table": "mmhealth_marts.dim_patient",
                            "permissions": ["INSERT"], "allow_phi_write": True, "reason": REASON})
    validate(write(tmp_path, mutate))


def test_an_exception_nobody_needs_is_a_warning(tmp_path, capsys):
    path = write(tmp_path, lambda d: grant(d, "bioinformatics_genomic").update(allow_phi_regrant=True, reason=REASON))
    assert main(["govern", "validate", "--policy", str(path)]) == 0
    err = capsys.readouterr().err
    assert "warning: grant 'bioinformatics_genomic' sets allow_phi_regrant but gives no grant option" in err


def test_the_shipped_policy_needs_its_exception(repo_root, tmp_path):
    """governance/policy.yml: the stewards' grant option on clinical marts is allowed only by its explicit
    exception; without it, validate fails naming the grant."""
    text = (repo_root / "governance" / "policy.yml").read_text()
    assert "allow_phi_regrant: true" in text
    doc = yaml.safe_load(text)
    steward = grant(doc, "stewards_clinical")
    assert steward["grant_option"] and steward["reason"].strip()
    del steward["allow_phi_regrant"], steward["reason"]
    doc["manifest"] = str(MANIFEST)  # the fixture manifest has clinical marts with phi columns too
    doc["tables"] = [{"match": "mmhealth_marts.dim_patient", "tags": {"modality": "clinical"}}]
    path = tmp_path / "shipped.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    policy, catalog = load_unchecked(path)
    errors = [f for f in check(policy, catalog) if f.level == "error"]
    assert any("grant 'stewards_clinical' gives principal 'clinical_data_stewards'" in str(f)
               and "WITH GRANT OPTION" in str(f) for f in errors), [str(f) for f in errors]


def load_unchecked(path):
    from mmhealth.governance.validate import load as load_policy_and_catalog

    return load_policy_and_catalog(path)


# --- property: the rule against an independent oracle -------------------------------------------------------

@st.composite
def delegating_policies(draw):
    principals = {f"p{i}": draw(st.sampled_from(list(RANK))) for i in range(draw(st.integers(1, 3)))}
    modality = {t: draw(st.sampled_from(TAGS["modality"])) for t in NAMES if draw(st.booleans())}
    grants = []
    for i in range(draw(st.integers(1, 5))):
        who = draw(st.lists(st.sampled_from(sorted(principals)), min_size=1, max_size=2, unique=True))
        perms = draw(st.lists(st.sampled_from(["SELECT", "DESCRIBE", "INSERT", "DELETE", "ALTER", "DROP", "ALL"]),
                              min_size=1, max_size=3, unique=True))
        g = {"name": f"g{i}", "principals": who, "permissions": perms}
        if draw(st.booleans()):
            g["grant_option"] = draw(st.lists(st.sampled_from(perms), min_size=1, unique=True))
        kind = draw(st.sampled_from(["tags", "table", "wildcard"]))
        if kind == "tags":
            keys = draw(st.lists(st.sampled_from(sorted(TAGS)), min_size=1, max_size=2, unique=True))
            g["tag_expression"] = {k: draw(st.lists(st.sampled_from(TAGS[k]), min_size=1, unique=True)) for k in keys}
        elif kind == "table":
            g["table"] = f"db.{draw(st.sampled_from(NAMES))}"
        else:
            g["table"] = "db.*"
        for flag in ("allow_phi_regrant", "allow_phi_write"):
            if draw(st.booleans()):
                g[flag] = True
                g["reason"] = REASON
        grants.append(g)
    return {
        "version": 1, "catalog_id": "123456789012", "lf_tags": TAGS,
        "databases": {"db": {"dbt_schemas": ["mmhealth_marts"], "tags": {"layer": "marts"}}},
        "tables": [{"match": f"db.{t}", "tags": {"modality": m}} for t, m in sorted(modality.items())],
        "principals": {p: {"type": "iam_role", "arn": f"arn:aws:iam::123456789012:role/{p}", "clearance": c}
                       for p, c in principals.items()},
        "grants": grants,
    }


def delegation_oracle(doc) -> set[tuple[str, str, str]]:
    """(grant, principal, regrant|write) that must be refused, from Lake Formation's tag rules re-derived here."""
    modality = {r["match"].split(".", 1)[1]: r["tags"]["modality"] for r in doc["tables"]}
    phi_tables = {t for t, cols in TABLES.items() if any(sens == "phi" for sens, _ in cols.values())}

    def covers(g, t):
        if "tag_expression" in g:
            table_tags = {"layer": "marts", "modality": modality.get(t)}
            tag_sets = [table_tags] + [{**table_tags, "sensitivity": sens} for sens, _ in TABLES[t].values()]
            return any(all(tags.get(k) in v for k, v in g["tag_expression"].items()) for tags in tag_sets)
        return g["table"] in ("db.*", f"db.{t}")

    refused = set()
    for g in doc["grants"]:
        reached = [t for t in NAMES if covers(g, t) and t in phi_tables]
        if not reached:
            continue
        kinds = {"regrant": bool(g.get("grant_option")),
                 "write": bool({"INSERT", "DELETE", "ALTER", "DROP", "ALL"} & set(g["permissions"]))}
        flags = {"regrant": g.get("allow_phi_regrant", False), "write": g.get("allow_phi_write", False)}
        for p in g["principals"]:
            for kind, present in kinds.items():
                if present and not (doc["principals"][p]["clearance"] == "phi" and flags[kind]):
                    refused.add((g["name"], p, kind))
    return refused


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(delegating_policies())
def test_validate_refuses_exactly_the_unexcepted_delegations(doc):
    policy, catalog = load(doc)
    errors = [str(f) for f in check(policy, catalog) if f.level == "error"]
    found = set()
    for e in errors:
        m = re.search(r"grant '(g\d+)' gives principal '(p\d+)'", e)
        if m:
            found.add((m.group(1), m.group(2), "regrant" if "WITH GRANT OPTION" in e else "write"))
    assert found == delegation_oracle(doc)
