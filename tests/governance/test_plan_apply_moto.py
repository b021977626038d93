"""plan -> apply -> plan against a moto Lake Formation on 127.0.0.1: convergence, drift, revokes, unmanaged
principals and resources, stale saved plans. moto lacks the data cells filter calls, so these policies
carry no filters; test_filters_stubber.py covers those with botocore's Stubber."""

from __future__ import annotations

import json

import pytest
import yaml

from mmhealth.cli import main
from mmhealth.governance.apply import apply_plan
from mmhealth.governance.aws import Gateway, read_live
from mmhealth.governance.desired import desired_state
from mmhealth.governance.plan import make_plan
from mmhealth.governance.validate import validate

from .conftest import ACCOUNT, FIXTURES

ADMIN = f"arn:aws:iam::{ACCOUNT}:role/mmhealth-lake-admin"  # unmanaged in the fixture policy
DS = f"arn:aws:iam::{ACCOUNT}:user/ds-pipeline"


def write_policy(tmp_path, mutate=None, name="policy.yml"):
    data = yaml.safe_load((FIXTURES / "policy.yml").read_text())
    data["manifest"] = str(FIXTURES / "manifest.json")
    data.pop("data_cells_filters", None)
    if mutate:
        mutate(data)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def plan_for(policy_path, lf):
    policy, catalog, _ = validate(policy_path)
    desired, scope = desired_state(policy, catalog)
    gw = Gateway(lf, policy.catalog_id)
    live = read_live(gw, scope)
    return make_plan(desired, live, scope, str(policy_path), {p.identifier: p.name for p in policy.principals.values()}), gw


def all_permissions(lf):
    return lf.list_permissions(CatalogId=ACCOUNT)["PrincipalResourcePermissions"]


@pytest.fixture()
def cli_env(moto_reset, monkeypatch):
    monkeypatch.setenv("MMHEALTH_LAKEFORMATION_ENDPOINT", moto_reset)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    return moto_reset


def test_plan_from_empty_apply_then_plan_is_empty(tmp_path, lf):
    path = write_policy(tmp_path)
    plan, gw = plan_for(path, lf)
    kinds = {c.kind for c in plan.changes}
    assert kinds == {"lf_tag", "resource_tag", "permission"}
    assert all(c.action == "+" for c in plan.changes)
    outcome = apply_plan(gw, plan)
    assert outcome.ok and len(outcome.applied) == len(plan.changes)
    again, _ = plan_for(path, lf)
    assert again.changes == [], [c.text for c in again.changes]
    # what moto now holds is what the policy says, e.g. the column classification tags
    tags = lf.get_resource_lf_tags(Resource={"TableWithColumns": {"DatabaseName": "mmhealth_marts", "Name": "dim_patient",
                                                                 "ColumnNames": ["patient_id"]}})
    assert tags["LFTagsOnColumns"][0]["LFTags"][0]["TagValues"] == ["phi"]


def test_cli_exit_codes_and_out_of_band_drift(tmp_path, cli_env, capsys):
    lf_endpoint = cli_env
    path = write_policy(tmp_path)
    md = tmp_path / "plan.md"
    assert main(["govern", "plan", "--policy", str(path), "--markdown", str(md)]) == 2
    assert "### Lake Formation plan" in md.read_text()
    assert main(["govern", "apply", "--policy", str(path), "--auto-approve"]) == 0
    assert main(["govern", "plan", "--policy", str(path)]) == 0
    assert "No changes" in capsys.readouterr().out

    # someone grants SELECT on a phi-bearing table by hand: the next plan shows it, under the principal, exit 2
    from .conftest import lf_client

    lf = lf_client(lf_endpoint)
    lf.grant_permissions(CatalogId=ACCOUNT, Principal={"DataLakePrincipalIdentifier": DS},
                         Resource={"Table": {"CatalogId": ACCOUNT, "DatabaseName": "mmhealth_marts", "Name": "dim_patient"}},
                         Permissions=["SELECT"])
    assert main(["govern", "plan", "--policy", str(path), "--json"]) == 2
    plan = json.loads(capsys.readouterr().out)
    [drift] = plan["changes"]
    assert drift["action"] == "-" and drift["group"] == DS and drift["text"] == "SELECT on table mmhealth_marts.dim_patient"
    assert plan["principal_names"][DS] == "data_scientists"

    assert main(["govern", "apply", "--policy", str(path), "--auto-approve"]) == 0
    assert not [p for p in all_permissions(lf) if p["Resource"].get("Table", {}).get("Name") == "dim_patient"
                and p["Principal"]["DataLakePrincipalIdentifier"] == DS]
    assert main(["govern", "plan", "--policy", str(path)]) == 0


def test_revokes_when_a_grant_leaves_the_policy(tmp_path, lf):
    path = write_policy(tmp_path)
    plan, gw = plan_for(path, lf)
    assert apply_plan(gw, plan).ok
    radiologists = f"arn:aws:iam::{ACCOUNT}:role/mmhealth-radiologists"
    assert any(p["Principal"]["DataLakePrincipalIdentifier"] == radiologists for p in all_permissions(lf))

    def drop_radiology(d):
        d["grants"] = [g for g in d["grants"] if g["name"] != "radiology_imaging"]
        d["grants"][0]["principals"].remove("radiologists")

    smaller = write_policy(tmp_path, drop_radiology, "smaller.yml")
    plan, gw = plan_for(smaller, lf)
    assert {(c.action, c.group) for c in plan.changes} == {("-", radiologists)}
    assert sorted(c.text for c in plan.changes) == [
        "DESCRIBE on database mmhealth_marts",
        "DESCRIBE on tables tagged modality IN (imaging) AND sensitivity IN (internal, public)",
        "SELECT on tables tagged modality IN (imaging) AND sensitivity IN (internal, public)",
    ]
    assert apply_plan(gw, plan).ok
    assert not any(p["Principal"]["DataLakePrincipalIdentifier"] == radiologists for p in all_permissions(lf))
    assert plan_for(smaller, lf)[0].changes == []


def test_unmanaged_principals_and_resources_are_never_touched(tmp_path, lf):
    untouchable = [
        (ADMIN, {"Table": {"CatalogId": ACCOUNT, "DatabaseName": "mmhealth_marts", "Name": "dim_patient"}}, ["ALL"]),
        ("IAM_ALLOWED_PRINCIPALS", {"Database": {"CatalogId": ACCOUNT, "Name": "mmhealth_marts"}}, ["ALL"]),
        (DS, {"Table": {"CatalogId": ACCOUNT, "DatabaseName": "mmhealth_marts", "Name": "patient_360__dbt_tmp"}}, ["SELECT"]),
        (DS, {"Database": {"CatalogId": ACCOUNT, "Name": "some_other_team"}}, ["DESCRIBE"]),
    ]
    for principal, resource, perms in untouchable:
        lf.grant_permissions(CatalogId=ACCOUNT, Principal={"DataLakePrincipalIdentifier": principal}, Resource=resource,
                             Permissions=perms)
    before = {json.dumps(p, sort_keys=True) for p in all_permissions(lf)}
    path = write_policy(tmp_path)
    plan, gw = plan_for(path, lf)
    assert plan.out_of_scope == len(untouchable)
    assert not [c for c in plan.changes if c.action == "-"]
    assert apply_plan(gw, plan).ok
    after = {json.dumps(p, sort_keys=True) for p in all_permissions(lf)}
    assert before <= after  # all four survive
    assert plan_for(path, lf)[0].changes == []


def test_hand_edited_plan_cannot_touch_unmanaged(tmp_path, lf):
    path = write_policy(tmp_path)
    plan, gw = plan_for(path, lf)
    admin_grant = next(c for c in plan.changes if c.kind == "permission")
    admin_grant.payload = {**admin_grant.payload, "principal": ADMIN}
    outcome = apply_plan(gw, plan)
    assert [c for c, _ in outcome.refused] == [admin_grant]
    assert not outcome.ok
    assert not any(p["Principal"]["DataLakePrincipalIdentifier"] == ADMIN for p in all_permissions(lf))


def test_stale_saved_plan_is_refused(tmp_path, cli_env, capsys):
    path = write_policy(tmp_path)
    saved = tmp_path / "plan.json"
    assert main(["govern", "plan", "--policy", str(path), "--out", str(saved)]) == 2
    from .conftest import lf_client

    lf = lf_client(cli_env)
    lf.grant_permissions(CatalogId=ACCOUNT, Principal={"DataLakePrincipalIdentifier": DS},
                         Resource={"Database": {"CatalogId": ACCOUNT, "Name": "mmhealth_marts"}}, Permissions=["ALTER"])
    assert main(["govern", "apply", "--policy", str(path), "--plan", str(saved), "--auto-approve"]) == 1
    err = capsys.readouterr().err
    assert "live Lake Formation state changed since this plan was made" in err and str(saved) in err
    assert lf.list_lf_tags(CatalogId=ACCOUNT)["LFTags"] == []  # nothing was applied

    # a fresh plan of the same state applies
    assert main(["govern", "plan", "--policy", str(path), "--out", str(saved)]) == 2
    assert main(["govern", "apply", "--policy", str(path), "--plan", str(saved), "--auto-approve"]) == 0
    assert main(["govern", "plan", "--policy", str(path)]) == 0


def test_unreachable_endpoint_is_exit_1_with_a_fix(tmp_path, monkeypatch, capsys):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    path = write_policy(tmp_path)
    assert main(["govern", "plan", "--policy", str(path), "--endpoint-url", f"http://127.0.0.1:{port}"]) == 1
    err = capsys.readouterr().err
    assert "mmhealth govern: error: AWS:" in err and "--endpoint-url" in err


def test_catalog_id_override_fills_principal_arns(tmp_path, lf):
    path = write_policy(tmp_path)
    policy, catalog, _ = validate(path, catalog_id="111122223333")
    assert policy.principals["clinicians"].as_written == "arn:aws:iam::111122223333:role/mmhealth/clinicians"
    desired, scope = desired_state(policy, catalog)
    assert scope.catalog_id == "111122223333"
    assert all(a.principal.startswith(("arn:aws:iam::111122223333:", "arn:aws:quicksight:us-east-1:111122223333:"))
               for a in desired.permissions)


def test_plan_without_an_account_refuses(tmp_path, cli_env, capsys):
    path = write_policy(tmp_path, lambda d: d.pop("catalog_id"))
    assert main(["govern", "validate", "--policy", str(path)]) == 0  # validating needs no account
    assert main(["govern", "plan", "--policy", str(path)]) == 1
    assert "no catalog_id - set `catalog_id:` in the policy or pass --catalog-id" in capsys.readouterr().err
    assert main(["govern", "plan", "--policy", str(path), "--catalog-id", ACCOUNT]) == 2


def test_a_saved_plan_applies_without_a_prompt_and_shows_full_arns(tmp_path, cli_env, capsys, monkeypatch):
    """The saved, reviewed plan is the approval (as `terraform apply plan.tfplan`): no terminal, no prompt,
    no --auto-approve. A plan made on the spot still needs one of them."""
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # no terminal: input() would hit EOF
    path = write_policy(tmp_path)
    clinicians = f"arn:aws:iam::{ACCOUNT}:role/mmhealth/clinicians"  # an IAM role with a path
    assert main(["govern", "apply", "--policy", str(path)]) == 1
    assert "not a terminal" in capsys.readouterr().err

    saved = tmp_path / "plan.json"
    assert main(["govern", "plan", "--policy", str(path), "--out", str(saved)]) == 2
    text = capsys.readouterr().out
    assert f"Principal clinicians ({clinicians})" in text
    assert f":role/clinicians" not in text  # never the path-less form LF compares on
    data = json.loads(saved.read_text())
    assert data["principal_names"][clinicians] == "clinicians"
    assert {c["group"] for c in data["changes"] if c["kind"] == "permission"} >= {clinicians, DS}

    assert main(["govern", "apply", "--policy", str(path), "--plan", str(saved)]) == 0
    out = capsys.readouterr().out
    assert f"Principal clinicians ({clinicians})" in out and "0 failed" in out
    assert any(p["Principal"]["DataLakePrincipalIdentifier"] == clinicians for p in all_permissions_at(cli_env))
    assert main(["govern", "plan", "--policy", str(path)]) == 0


def all_permissions_at(endpoint):
    from .conftest import lf_client

    return all_permissions(lf_client(endpoint))
