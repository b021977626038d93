"""What is validated is what is sent: a row filter is parsed once, checked against Lake Formation's subset and
rendered canonically; that one text is what `validate` checks, `access` and `local` show, `plan` compares and
`apply` sends. The filter calls go to botocore's Stubber (moto lacks them), which checks the exact request."""

from __future__ import annotations

import re

import boto3
import duckdb
import pytest
import yaml
from botocore.stub import Stubber
from hypothesis import given, settings
from hypothesis import strategies as st

from mmhealth.cli import main
from mmhealth.governance.apply import apply_plan
from mmhealth.governance.aws import Gateway, read_live
from mmhealth.governance.desired import desired_state
from mmhealth.governance.plan import make_plan
from mmhealth.governance.policy import PolicyError
from mmhealth.governance.report import access_records
from mmhealth.governance.rowfilter import RowFilterError, parse_row_filter
from mmhealth.governance.validate import validate

from .conftest import ACCOUNT, FIXTURES

MANIFEST = FIXTURES / "manifest.json"
TABLE = {"CatalogId": ACCOUNT, "DatabaseName": "mmhealth_marts", "TableWildcard": {}}
# What the pre-canonical code sent for a commented two-line filter: newline collapsed, so the comment swallows
# the consent condition.
COLLAPSED = "age_years >= 18 -- adults only AND research_consent = true"


def policy_with_filter(tmp_path, row_filter_yaml: str):
    """The fixture policy with its one data cells filter's row_filter replaced by raw YAML text (so block
    scalars and quoting are exactly as a person would write them)."""
    text = (FIXTURES / "policy.yml").read_text()
    text = text.replace("manifest: tests/governance/fixtures/manifest.json", f"manifest: {MANIFEST}")
    old = '    row_filter: "research_consent = true"\n'
    assert old in text
    path = tmp_path / "policy.yml"
    path.write_text(text.replace(old, row_filter_yaml))
    return path


def line_of(path, needle: str) -> int:
    return next(i for i, ln in enumerate(path.read_text().splitlines(), 1) if needle in ln)


def stubbed():
    client = boto3.client("lakeformation", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    return client, Stubber(client)


def record_requests(client, op: str) -> list[dict]:
    """Every request body of `op` as the client was asked to send it (the Stubber answers before `before-call`,
    so record at parameter build, which sees the same parameters botocore serializes)."""
    sent: list[dict] = []
    client.meta.events.register(f"before-parameter-build.lakeformation.{op}", lambda params, **_: sent.append(params))
    return sent


MULTILINE = "    row_filter: |\n      research_consent = true\n      AND age_years >= 18\n"
CANONICAL = "(research_consent = TRUE) AND (age_years >= 18)"


def test_the_filter_sent_to_lake_formation_is_the_canonical_text_validate_checked(tmp_path, lf):
    path = policy_with_filter(tmp_path, MULTILINE)
    policy, catalog, _ = validate(path)
    [f] = policy.filters
    assert f.row_filter == CANONICAL == parse_row_filter("research_consent = true\nAND age_years >= 18\n").canonical
    # access (the review matrix) shows the same text
    partner = [r for r in access_records(policy, catalog) if r["principal"] == "external_research"]
    assert partner and {r["rows"] for r in partner} == {CANONICAL}

    client, stub = stubbed()
    sent = record_requests(client, "CreateDataCellsFilter")
    stub.add_response("list_data_cells_filter", {"DataCellsFilters": []}, {"Table": TABLE, "MaxResults": 1000})
    expected = {"TableCatalogId": ACCOUNT, "DatabaseName": "mmhealth_marts", "TableName": "features_cardiovascular",
                "Name": "consented_research_features", "RowFilter": {"FilterExpression": CANONICAL},
                "ColumnWildcard": {"ExcludedColumnNames": ["research_consent"]}}
    stub.add_response("create_data_cells_filter", {}, {"TableData": expected})
    with stub:
        desired, scope = desired_state(policy, catalog)
        gw = Gateway(lf, policy.catalog_id, filters_client=client)
        plan = make_plan(desired, read_live(gw, scope), scope, policy.file, {})
        [change] = [c for c in plan.changes if c.kind == "filter"]
        assert change.text.endswith(f"rows where {CANONICAL}; columns all except research_consent")
        outcome = apply_plan(gw, plan)
        assert outcome.ok, outcome.failed
        stub.assert_no_pending_responses()
    assert [s["TableData"]["RowFilter"]["FilterExpression"] for s in sent] == [f.row_filter]
    assert "\n" not in sent[0]["TableData"]["RowFilter"]["FilterExpression"]


@pytest.mark.parametrize("yaml_text, needle, reason", [
    ("    row_filter: |\n      age_years >= 18 -- adults only\n      AND research_consent = true\n", "row_filter:", "holds a comment"),
    ("    row_filter: \"age_years >= 18 /* adults */ AND research_consent = true\"\n", "row_filter:", "holds a comment"),
    ("    row_filter: \"sex = 'F\"\n", "row_filter:", "cannot be read as SQL"),
    ("    row_filter: \"sex = 'F' AND\"\n", "row_filter:", "is not a SQL predicate"),
    ("    row_filter: \"research_consent = true; DROP TABLE x\"\n", "row_filter:", "holds ';'"),
    ("    row_filter: \"lower(sex) = 'f'\"\n", "row_filter:", "outside the row filter subset"),
    ("    row_filter: \"age_years IN (SELECT 1)\"\n", "row_filter:", "outside the row filter subset"),
    ("    row_filter: \"sex NOT LIKE 'F%' ESCAPE '!'\"\n", "row_filter:", "outside the row filter subset"),
])
def test_malformed_filter_is_one_line_naming_file_and_line(tmp_path, capsys, yaml_text, needle, reason):
    path = policy_with_filter(tmp_path, yaml_text)
    with pytest.raises(PolicyError) as err:
        validate(path)
    [finding] = err.value.findings
    assert finding.startswith(f"{path}:{line_of(path, needle)}: data cells filter 'consented_research_features': "
                              "row_filter "), finding
    assert reason in finding and "\n" not in str(err.value)
    # on the command line: exit 1, one line on stderr, no traceback
    assert main(["govern", "validate", "--policy", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and reason in captured.err and "Traceback" not in captured.err


def test_a_filter_that_reaches_no_command_never_becomes_all_rows(tmp_path):
    """Every command loads the policy the same way: a bad filter stops access, local and plan too (none of them
    may treat it as 'no filter', which would mean every row)."""
    path = policy_with_filter(tmp_path, "    row_filter: \"sex = 'F\"\n")
    for args in (["access"], ["local", "--warehouse", str(tmp_path / "nope.duckdb")], ["dbt-config"]):
        assert main(["govern", *args, "--policy", str(path)]) == 1


def test_drift_from_a_collapsed_comment_shows_and_is_repaired(tmp_path, lf):
    """Lake Formation holds the collapsed commented text an older tool sent; the policy holds the same intent
    without the comment. The plan shows the difference (before, both sides collapsed alike and it was
    invisible) and apply sends the canonical text."""
    path = policy_with_filter(tmp_path, "    row_filter: |\n      age_years >= 18\n      AND research_consent = true\n")
    policy, catalog, _ = validate(path)
    wanted = "(age_years >= 18) AND (research_consent = TRUE)"
    live = {"TableCatalogId": ACCOUNT, "DatabaseName": "mmhealth_marts", "TableName": "features_cardiovascular",
            "Name": "consented_research_features", "RowFilter": {"FilterExpression": COLLAPSED},
            "ColumnWildcard": {"ExcludedColumnNames": ["research_consent"]}}
    client, stub = stubbed()
    sent = record_requests(client, "UpdateDataCellsFilter")
    stub.add_response("list_data_cells_filter", {"DataCellsFilters": [live]}, {"Table": TABLE, "MaxResults": 1000})
    stub.add_response("update_data_cells_filter", {}, {"TableData": {**live, "RowFilter": {"FilterExpression": wanted}}})
    with stub:
        desired, scope = desired_state(policy, catalog)
        gw = Gateway(lf, policy.catalog_id, filters_client=client)
        plan = make_plan(desired, read_live(gw, scope), scope, policy.file, {})
        [change] = [c for c in plan.changes if c.kind == "filter"]
        assert change.action == "~"
        assert f"rows where {COLLAPSED};" in change.text and f"-> rows where {wanted};" in change.text
        assert apply_plan(gw, plan).ok
        stub.assert_no_pending_responses()
    assert [s["TableData"]["RowFilter"]["FilterExpression"] for s in sent] == [wanted]


def test_live_spelling_of_the_same_predicate_is_no_change(loaded, lf):
    """Lake Formation may list the expression as it was typed in the console: same predicate, no change."""
    policy, catalog = loaded
    live = {"TableCatalogId": ACCOUNT, "DatabaseName": "mmhealth_marts", "TableName": "features_cardiovascular",
            "Name": "consented_research_features", "RowFilter": {"FilterExpression": "(research_consent  =  true)"},
            "ColumnWildcard": {"ExcludedColumnNames": ["research_consent"]}}
    client, stub = stubbed()
    stub.add_response("list_data_cells_filter", {"DataCellsFilters": [live]}, {"Table": TABLE, "MaxResults": 1000})
    with stub:
        desired, scope = desired_state(policy, catalog)
        live_read = read_live(Gateway(lf, policy.catalog_id, filters_client=client), scope)
    assert live_read.state.filters == desired.filters


def test_a_hand_edited_plan_cannot_send_a_non_canonical_filter(loaded, lf):
    policy, catalog = loaded
    client, stub = stubbed()
    stub.add_response("list_data_cells_filter", {"DataCellsFilters": []}, {"Table": TABLE, "MaxResults": 1000})
    with stub:
        desired, scope = desired_state(policy, catalog)
        gw = Gateway(lf, policy.catalog_id, filters_client=client)
        plan = make_plan(desired, read_live(gw, scope), scope, policy.file, {})
    [change] = [c for c in plan.changes if c.kind == "filter"]
    for text, why in [(COLLAPSED, "holds a comment"), ("research_consent = true", "not in canonical form")]:
        change.payload["table_data"]["RowFilter"]["FilterExpression"] = text
        with Stubber(client):  # nothing queued: a filter call reaching the client would fail loudly
            outcome = apply_plan(gw, plan)
        assert [c for c, _ in outcome.refused] == [change]
        assert why in outcome.refused[0][1] and not gw.calls["create_data_cells_filter"]


def test_validate_checks_columns_and_types_of_the_canonical_filter(tmp_path):
    cases = [
        ("age_years >= '18'", "compares 'age_years' (integer) with a string"),
        ("sex = 1", "compares 'sex' (varchar) with a number"),
        ("research_consent = 'yes'", "compares 'research_consent' (boolean) with a string"),
        ("age_years LIKE '1%'", "LIKE on 'age_years' (integer)"),
        ("shoe_size = 4", "references 'shoe_size', which is not a column"),
    ]
    for text, message in cases:
        path = policy_with_filter(tmp_path, f'    row_filter: "{text}"\n')
        with pytest.raises(PolicyError) as err:
            validate(path)
        hits = [m for m in err.value.findings if message in m]
        assert hits and hits[0].startswith(f"{path}:{line_of(path, 'row_filter:')}:"), (text, err.value.findings)


def test_date_and_array_columns_are_refused(tmp_path, fixtures):
    data = yaml.safe_load((fixtures / "policy.yml").read_text())
    data["manifest"] = str(MANIFEST)
    data["data_cells_filters"][0].update(table="mmhealth_marts.patient_360", exclude_columns=["patient_id", "last_study_date"])
    for text, message in [("last_study_date IS NULL", "of type date"), ("condition_codes IS NOT NULL", "array")]:
        data["data_cells_filters"][0]["row_filter"] = text
        path = tmp_path / "p.yml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        with pytest.raises(PolicyError) as err:
            validate(path)
        assert any(message in m and "string, numeric and boolean" in m for m in err.value.findings), err.value.findings


# --- the subset and the canonical form ----------------------------------------------------------------------

@pytest.mark.parametrize("text, canonical", [
    ("research_consent = true", "research_consent = TRUE"),
    ("a != 1", "a <> 1"),
    ("18 <= age", "age >= 18"),
    ("(((a = 1)))", "a = 1"),
    ("a NOT IN (1, 2)", "a NOT IN (1, 2)"),
    ("NOT a IN (1, 2)", "a NOT IN (1, 2)"),
    ("NOT a LIKE 'x%'", "a NOT LIKE 'x%'"),
    ("a NOT LIKE 'x%'", "a NOT LIKE 'x%'"),
    ("NOT (a NOT LIKE 'x%')", "NOT (a NOT LIKE 'x%')"),
    ("a IS NOT NULL", "a IS NOT NULL"),
    ("a not between -1 and 2e3", "a NOT BETWEEN -1 AND 2e3"),
    ("a = 'it''s'", "a = 'it''s'"),
    ('"Weird Col" = 1', '"Weird Col" = 1'),
    ('date = 1', '"date" = 1'),
    ("a = 1 OR b = 2 AND c = 3", "(a = 1) OR ((b = 2) AND (c = 3))"),
    ("NOT (a = 1 OR b = 2) AND c = 3 AND (d = 4 AND e = 5)",
     "(NOT ((a = 1) OR (b = 2))) AND (c = 3) AND (d = 4) AND (e = 5)"),
    ("x = 1\n\tAND\n  y = 'two'", "(x = 1) AND (y = 'two')"),
])
def test_canonical_form(text, canonical):
    assert parse_row_filter(text).canonical == canonical
    assert parse_row_filter(canonical).canonical == canonical


@pytest.mark.parametrize("text, reason", [
    ("a = 1 -- note", "holds a comment"),
    ("a /* x */ = 1", "holds a comment"),
    ("a = 'x", "cannot be read as SQL"),
    ('"a = 1', "cannot be read as SQL"),
    ("a = 1;", "holds ';'"),
    ("a = b", "not with another column"),
    ('a = "b"', "not with another column"),
    ("1 = 1", "one side must be a column"),
    ("TRUE", "compares a column with a constant"),
    ("flag", "compares a column with a constant"),
    ("a = NULL", "use `col IS NULL`"),
    ("a IS TRUE", "IS is only"),
    ("a = DATE '2020-01-01'", "typed literals"),
    ("a = CAST('1' AS INT)", "typed literals"),
    ("lower(a) = 'x'", "allows no functions"),
    ("a = 1 + 1", "no functions"),
    ("a = 1e400", "out of range"),
    ("a = 0x1F", "constants are"),
    ("a ILIKE 'x'", "outside the row filter subset"),
    ("a LIKE 'x' ESCAPE '!'", "outside the row filter subset"),
    ("a LIKE 1", "single-quoted string"),
    ("a IN (SELECT 1)", "outside the row filter subset"),
    ("t.a = 1", "outside the row filter subset"),
    ("a = 'x\ny'", "control characters"),
    ("", "is empty"),
    ("a IN (" + ", ".join(str(i) for i in range(600)) + ")", "fewer than 2048"),
    ("(" * 5000 + "a = 1" + ")" * 5000, "nested too deeply"),
])
def test_outside_the_subset_is_refused_in_one_line(text, reason):
    with pytest.raises(RowFilterError) as err:
        parse_row_filter(text)
    assert reason in str(err.value) and "\n" not in str(err.value), str(err.value)


# Random predicates over a small table, built from the subset's grammar with random spacing, case, redundant
# parentheses and the literal on either side: canonicalising is idempotent, stays in the subset, and DuckDB
# (an independent evaluator) returns the same rows for the text as written and for the canonical text.
COLUMNS = {"n": "number", "s": "string", "b": "boolean"}
ROWS = [(i, v, b) for i, (v, b) in enumerate([("x", True), ("y", False), ("it's", None), (None, True), ("xx", False),
                                               ("X", None), ("%", True)])] + [(None, "y", None), (-3, "x%y", True)]


def literal(kind):
    if kind == "number":
        return st.sampled_from(["0", "1", "-3", "2.5", "1e1", "7"])
    if kind == "string":
        return st.sampled_from(["'x'", "'y'", "'it''s'", "'X'", "'%'", "'x%'", "'_'"])
    return st.sampled_from(["TRUE", "FALSE", "true", "False"])


@st.composite
def simple(draw):
    col, kind = draw(st.sampled_from(sorted(COLUMNS.items())))
    quoted = draw(st.booleans())
    name = f'"{col}"' if quoted else col
    form = draw(st.sampled_from(["cmp", "in", "between", "like", "isnull"] if kind == "string" else
                                ["cmp", "in", "between", "isnull"] if kind == "number" else ["cmp", "in", "isnull"]))
    neg = draw(st.booleans())
    if form == "cmp":
        op = draw(st.sampled_from(["=", "<>", "!=", "<", "<=", ">", ">="] if kind != "boolean" else ["=", "<>"]))
        lit = draw(literal(kind))
        return f"{lit} {op} {name}" if draw(st.booleans()) else f"{name} {op} {lit}"
    if form == "in":
        items = draw(st.lists(literal(kind), min_size=1, max_size=3))
        return f"{name} {'NOT ' if neg else ''}IN ({', '.join(items)})"
    if form == "between":
        return f"{name} {'not ' if neg else ''}between {draw(literal(kind))} AND {draw(literal(kind))}"
    if form == "like":
        return f"{name} {'NOT ' if neg else ''}LIKE {draw(literal('string'))}"
    return f"{name} IS {'NOT ' if neg else ''}NULL"


def predicates():
    return st.recursive(simple(), lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["AND", "or", "And"]), inner).map(lambda t: f"{t[0]}\n {t[1]}  {t[2]}"),
        inner.map(lambda p: f"NOT ({p})"),
        inner.map(lambda p: f"(({p}))"),
    ), max_leaves=6)


@pytest.fixture(scope="module")
def rows_db():
    con = duckdb.connect()
    con.execute("CREATE TABLE t (n DOUBLE, s VARCHAR, b BOOLEAN)")
    con.executemany("INSERT INTO t VALUES (?, ?, ?)", ROWS)
    yield con
    con.close()


@settings(max_examples=150, deadline=None)
@given(predicates())
def test_canonical_form_is_idempotent_and_keeps_the_meaning(rows_db, text):
    rf = parse_row_filter(text)
    assert parse_row_filter(rf.canonical).canonical == rf.canonical
    assert "\n" not in rf.canonical
    assert rf.columns <= set(COLUMNS)
    as_written = rows_db.execute(f"SELECT rowid FROM t WHERE {text} ORDER BY rowid").fetchall()
    canonical = rows_db.execute(f"SELECT rowid FROM t WHERE {rf.canonical} ORDER BY rowid").fetchall()
    assert canonical == as_written, (text, rf.canonical)


def test_every_message_names_what_to_write_instead():
    """The subset's refusals say what is allowed, never only 'invalid'."""
    for text in ("lower(a) = 'x'", "a = b", "a IS TRUE", "a = NULL"):
        msg = str(pytest.raises(RowFilterError, parse_row_filter, text).value)
        assert re.search(r"column|IS NULL|constants|= TRUE", msg), msg
