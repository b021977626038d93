"""Data cells filters end to end: grants and tags go to moto, the filter calls moto lacks
(create/update/delete/list_data_cells_filter) go to a client under botocore's Stubber, which checks each
request against the real API model and the parameters we expect."""

from __future__ import annotations

import boto3
from botocore.stub import Stubber

from mmhealth.governance.apply import apply_plan
from mmhealth.governance.aws import Gateway, read_live
from mmhealth.governance.desired import desired_state
from mmhealth.governance.plan import make_plan

from .conftest import ACCOUNT

TABLE = {"CatalogId": ACCOUNT, "DatabaseName": "mmhealth_marts", "TableWildcard": {}}
WANTED = {
    "TableCatalogId": ACCOUNT, "DatabaseName": "mmhealth_marts", "TableName": "features_cardiovascular",
    "Name": "consented_research_features", "RowFilter": {"FilterExpression": "research_consent = TRUE"},  # canonical
    "ColumnWildcard": {"ExcludedColumnNames": ["research_consent"]},
}
EXTERNAL = "210987654321"


def stubbed():
    client = boto3.client("lakeformation", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    return client, Stubber(client)


def plan_with(loaded, lf, filters_client):
    policy, catalog = loaded
    desired, scope = desired_state(policy, catalog)
    gw = Gateway(lf, policy.catalog_id, filters_client=filters_client)
    return make_plan(desired, read_live(gw, scope), scope, policy.file, {}), gw


def test_filter_created_granted_then_in_sync(loaded, lf):
    client, stub = stubbed()
    stub.add_response("list_data_cells_filter", {"DataCellsFilters": []}, {"Table": TABLE, "MaxResults": 1000})
    stub.add_response("create_data_cells_filter", {}, {"TableData": WANTED})
    with stub:
        plan, gw = plan_with(loaded, lf, client)
        [f] = [c for c in plan.changes if c.kind == "filter"]
        assert f.action == "+" and "research_consent = TRUE" in f.text
        grant = [c for c in plan.changes if c.group == EXTERNAL]
        assert [c.text for c in grant] == [
            "SELECT on data cells filter mmhealth_marts.features_cardiovascular/consented_research_features"]
        outcome = apply_plan(gw, plan)
        assert outcome.ok, outcome.failed
        stub.assert_no_pending_responses()

    # Lake Formation now lists the filter (with its own spacing): no change
    listed = {**WANTED, "RowFilter": {"FilterExpression": "research_consent  =  true"}}
    client, stub = stubbed()
    stub.add_response("list_data_cells_filter", {"DataCellsFilters": [listed]}, {"Table": TABLE, "MaxResults": 1000})
    with stub:
        plan, _ = plan_with(loaded, lf, client)
        assert plan.changes == []
        stub.assert_no_pending_responses()


def test_changed_filter_updated_and_stray_filter_deleted_after_revokes(loaded, lf):
    drifted = {**WANTED, "RowFilter": {"FilterExpression": "TRUE"}}
    stray = {**WANTED, "Name": "everyone", "RowFilter": {"AllRowsWildcard": {}}, "ColumnWildcard": {"ExcludedColumnNames": []}}
    client, stub = stubbed()
    stub.add_response("list_data_cells_filter", {"DataCellsFilters": [drifted, stray], "NextToken": "p2"},
                      {"Table": TABLE, "MaxResults": 1000})
    stub.add_response("list_data_cells_filter", {"DataCellsFilters": []}, {"Table": TABLE, "MaxResults": 1000, "NextToken": "p2"})
    stub.add_response("update_data_cells_filter", {}, {"TableData": WANTED})
    stub.add_response("delete_data_cells_filter", {}, {"TableCatalogId": ACCOUNT, "DatabaseName": "mmhealth_marts",
                                                       "TableName": "features_cardiovascular", "Name": "everyone"})
    with stub:
        plan, gw = plan_with(loaded, lf, client)
        filters = {c.action: c.text for c in plan.changes if c.kind == "filter"}
        assert set(filters) == {"~", "-"}
        assert "rows where TRUE" in filters["~"] and "-> rows where research_consent = TRUE" in filters["~"]
        outcome = apply_plan(gw, plan)
        assert outcome.ok, outcome.failed
        stub.assert_no_pending_responses()
    # the delete ran after the grants/revokes batch
    order = list(gw.calls)
    assert order.index("delete_data_cells_filter") > order.index("batch_grant_permissions")


def test_per_entry_failures_are_reported_and_the_rest_applied(loaded, lf):
    """BatchGrantPermissions answers failures per entry; each is reported against its change."""
    policy, catalog = loaded
    desired, scope = desired_state(policy, catalog)
    client, stub = stubbed()
    stub.add_response("list_data_cells_filter", {"DataCellsFilters": [WANTED]}, {"Table": TABLE, "MaxResults": 1000})
    with stub:
        plan, _ = plan_with(loaded, lf, client)
    grants_client, gstub = stubbed()
    n_entries = len({(c.payload["principal"], c.payload["resource_key"]) for c in plan.changes if c.kind == "permission"})
    batches = -(-n_entries // 20)
    for i in range(batches):
        failures = [] if i else [{"RequestEntry": {"Id": "0"}, "Error": {"ErrorCode": "InvalidInputException",
                                                                        "ErrorMessage": "principal does not exist"}}]
        gstub.add_response("batch_grant_permissions", {"Failures": failures})

    class Split:  # tags through moto, batch grants through the stub
        def __getattr__(self, op):
            return getattr(grants_client if op.startswith("batch_") else lf, op)

    with gstub:
        outcome = apply_plan(Gateway(Split(), policy.catalog_id), plan)
    assert not outcome.ok
    failed_texts = {c.text for c, _ in outcome.failed}
    assert failed_texts and all("principal does not exist" in why for _, why in outcome.failed)
    assert len(outcome.applied) == len(plan.changes) - len(outcome.failed)
    assert any(c.kind == "resource_tag" for c in outcome.applied)
