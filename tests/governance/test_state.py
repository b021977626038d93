"""Normalization of live Lake Formation state: the spellings that make naive diffs perpetual."""

from __future__ import annotations

from mmhealth.governance.desired import Scope
from mmhealth.governance.plan import diff
from mmhealth.governance.policy import canonical_principal
from mmhealth.governance.state import Atom, Res, State, merge_entries, res_from_api

CAT = "123456789012"
P = f"arn:aws:iam::{CAT}:role/analyst"
SCOPE = Scope(CAT, frozenset({"db"}), {}, frozenset({"sensitivity", "modality"}), frozenset(), ())
T = {"Table": {"CatalogId": CAT, "DatabaseName": "db", "Name": "t"}}


def live(*rows) -> State:
    entries = []
    for principal, resource, perms, gopts in rows:
        res, _ = res_from_api(resource)
        entries.append((principal, res, perms, gopts))
    return State(permissions=merge_entries(entries))


def desired(*rows) -> State:
    return live(*rows)


def test_all_and_its_expansion_are_the_same_grant():
    want = desired((P, T, ["ALL"], []))
    have = live((P, T, ["ALTER", "DELETE", "DESCRIBE", "DROP", "INSERT", "SELECT"], []))
    assert diff(want, have, SCOPE)[0] == []
    # but a partial expansion is a real difference
    short = live((P, T, ["DESCRIBE", "SELECT"], []))
    changes, _ = diff(want, short, SCOPE)
    assert {(c.action, c.payload["permission"]) for c in changes} == {("+", "ALL"), ("-", "DESCRIBE"), ("-", "SELECT")}


def test_column_wildcard_without_exclusions_is_the_table():
    wildcard = {"TableWithColumns": {"CatalogId": CAT, "DatabaseName": "db", "Name": "t", "ColumnWildcard": {}}}
    assert diff(desired((P, T, ["SELECT"], [])), live((P, wildcard, ["SELECT"], [])), SCOPE)[0] == []
    # and the same table returned as two rows (Table: DESCRIBE, TableWithColumns: SELECT) merges into one grant
    both = live((P, T, ["DESCRIBE"], []), (P, wildcard, ["SELECT"], []))
    assert diff(desired((P, T, ["SELECT", "DESCRIBE"], [])), both, SCOPE)[0] == []


def test_excluded_columns_compare_regardless_of_order():
    a = {"TableWithColumns": {"DatabaseName": "db", "Name": "t", "ColumnWildcard": {"ExcludedColumnNames": ["b", "a"]}}}
    b = {"TableWithColumns": {"DatabaseName": "db", "Name": "t", "ColumnWildcard": {"ExcludedColumnNames": ["a", "b"]}}}
    assert diff(desired((P, a, ["SELECT"], [])), live((P, b, ["SELECT"], [])), SCOPE)[0] == []


def test_implicit_describe_is_ignored_but_explicit_drift_is_not():
    cols = {"TableWithColumns": {"CatalogId": CAT, "DatabaseName": "db", "Name": "t", "ColumnNames": ["a"]}}
    db = {"Database": {"CatalogId": CAT, "Name": "db"}}
    have = live((P, cols, ["SELECT"], []), (P, T, ["DESCRIBE"], []), (P, db, ["DESCRIBE"], []))
    changes, implicit = diff(desired((P, cols, ["SELECT"], [])), have, SCOPE)
    assert changes == [] and implicit == 2
    # DESCRIBE on a table the principal has nothing else on is a real, explicit grant: drift
    other = {"Table": {"CatalogId": CAT, "DatabaseName": "db", "Name": "u"}}
    changes, _ = diff(desired((P, cols, ["SELECT"], [])), live((P, cols, ["SELECT"], []), (P, other, ["DESCRIBE"], [])), SCOPE)
    assert [(c.action, c.text) for c in changes] == [("-", "DESCRIBE on table db.u")]


def test_principal_spellings():
    assert canonical_principal(f"arn:aws:iam::{CAT}:role/team/sub/analyst") == P
    assert canonical_principal(f"arn:aws:iam::{CAT}:root") == CAT
    assert canonical_principal(f" {P}/ ") == P
    saml = f"arn:aws:iam::{CAT}:saml-provider/Idp:group/g"
    assert canonical_principal(saml) == saml
    with_path = f"arn:aws:iam::{CAT}:role/team/analyst"
    assert diff(desired((P, T, ["SELECT"], [])), live((with_path, T, ["SELECT"], [])), SCOPE)[0] == []


def test_grant_option_flip_is_a_change_not_add_and_remove():
    changes, _ = diff(desired((P, T, ["SELECT"], ["SELECT"])), live((P, T, ["SELECT"], [])), SCOPE)
    [c] = changes
    assert c.action == "~" and "grant option off -> on" in c.text and c.payload["grantable"] is True


def test_tag_policy_expression_order_does_not_matter():
    a = {"LFTagPolicy": {"ResourceType": "TABLE", "Expression": [
        {"TagKey": "sensitivity", "TagValues": ["public", "internal"]}, {"TagKey": "modality", "TagValues": ["genomic"]}]}}
    b = {"LFTagPolicy": {"CatalogId": CAT, "ResourceType": "TABLE", "Expression": [
        {"TagKey": "modality", "TagValues": ["genomic"]}, {"TagKey": "sensitivity", "TagValues": ["internal", "public"]}]}}
    assert diff(desired((P, a, ["SELECT"], [])), live((P, b, ["SELECT"], [])), SCOPE)[0] == []


def test_scope_leaves_foreign_resources_and_tag_keys_alone():
    foreign_db = Res("database", "other")
    foreign_key = Res("tagpolicy", expression=(("cost_center", ("x",)),), resource_type="TABLE")
    assert not SCOPE.owns_res(foreign_db, None)
    assert not SCOPE.owns_res(foreign_key, None)
    assert not SCOPE.owns_res(Res("table", "db", "t"), "999999999999")  # another account's catalog
    assert SCOPE.owns_res(Res("table", "db", "t"), CAT)


def test_state_digest_ignores_order_and_spelling():
    a = live((P, T, ["SELECT", "DESCRIBE"], []))
    b = live((f"arn:aws:iam::{CAT}:role/x/analyst", T, ["DESCRIBE"], []), (P, T, ["SELECT"], []))
    assert a.digest() == b.digest()
    assert a.digest() != live((P, T, ["SELECT"], [])).digest()
    assert Atom(P, Res("table", "db", "t"), "SELECT") in a.permissions
