"""QuickSight as code: request bodies checked against botocore's service model, created on a moto server,
updated through a Stubber (moto has no Update*/Describe-data-set), and governed by the policy's group."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ParamValidationError
from botocore.stub import Stubber
from botocore.validate import validate_parameters

from mmhealth.cli import main
from mmhealth.dashboards import deploy, quicksight
from mmhealth.dashboards.layout import DASHBOARDS, PATIENT, POPULATION
from mmhealth.dashboards.manifest import parse_manifest, quicksight_type
from mmhealth.dashboards.principals import resolve_group
from mmhealth.errors import MMHealthError

from .fake_manifest import fake_manifest

ACCOUNT = "123456789012"
REGION = "us-east-1"
DS_ARN = f"arn:aws:quicksight:{REGION}:{ACCOUNT}:datasource/mmhealth-athena"
GROUP_ARN = f"arn:aws:quicksight:{REGION}:{ACCOUNT}:group/default/analysts"


def _target(clearance: str = "internal") -> quicksight.Target:
    return quicksight.Target(ACCOUNT, REGION, DS_ARN, GROUP_ARN, clearance)


def _plan(clearance: str = "phi", manifest: dict | None = None) -> quicksight.Plan:
    m = parse_manifest(manifest or fake_manifest(), Path("manifest.json"))
    target = _target(clearance)
    return quicksight.build_plan(DASHBOARDS, m, target, data_source=quicksight.data_source_request(target, "primary"))


def _service_model():
    return boto3.session.Session().client("quicksight", region_name=REGION).meta.service_model


def test_every_request_fits_the_service_model():
    plan = _plan()
    model = _service_model()
    bodies = [("CreateDataSource", plan.data_source)]
    bodies += [("CreateDataSet", b) for b in plan.data_sets]
    bodies += [("CreateDashboard", b) for b in plan.dashboards]
    for operation, body in bodies:
        validate_parameters(body, model.operation_model(operation).input_shape)  # raises on any mismatch
    quicksight.validate_plan(plan)  # the same, plus enum values
    assert len(plan.dashboards) == 2 and not plan.skipped


def test_validation_rejects_a_broken_definition():
    plan = _plan()
    broken = copy.deepcopy(plan.dashboards[0])
    broken["Definition"]["Sheets"][0]["Visuals"][0]["BarChartVisual"]["ChartConfiguration"]["Orientation"] = "DIAGONAL"
    with pytest.raises(ParamValidationError, match="DIAGONAL"):  # enums: botocore leaves them to the service
        quicksight.validate_request("CreateDashboard", broken)
    missing = copy.deepcopy(plan.dashboards[0])
    del missing["Definition"]["Sheets"][0]["Visuals"][0]["BarChartVisual"]["VisualId"]
    with pytest.raises(ParamValidationError, match="VisualId"):
        quicksight.validate_request("CreateDashboard", missing)
    unknown = copy.deepcopy(plan.data_sets[0])
    unknown["PhysicalTableMap"]["dbt"]["RelationalTable"]["Columns"] = []
    with pytest.raises(ParamValidationError):
        quicksight.validate_request("CreateDataSet", unknown)


def test_population_dashboard_has_three_sheets_over_the_semantic_models():
    body = next(d for d in _plan().dashboards if d["DashboardId"] == POPULATION.id)
    assert [s["Name"] for s in body["Definition"]["Sheets"]] == ["Clinical", "Genomic", "Imaging"]
    declared = {d["Identifier"] for d in body["Definition"]["DataSetIdentifierDeclarations"]}
    used = {
        field["Column"]["DataSetIdentifier"]
        for sheet in body["Definition"]["Sheets"]
        for visual in sheet["Visuals"]
        for field in _fields(visual)
    }
    # Only aggregated, small-cell-suppressed models feed the population dashboard.
    assert used == declared and all(m.startswith(("sq_", "population_")) for m in declared)
    # Suppressed (NULL) counts print as "<11"; a NULL ratio may be missing data too, so it prints "n/a".
    text = json.dumps(body)
    assert '"NullString": "<11"' in text and '"NullString": "n/a"' in text
    # A visual's own row filter is scoped to that visual alone.
    (diagnoses,) = [g for g in body["Definition"]["FilterGroups"] if g["FilterGroupId"].startswith("clinical-diagnoses")]
    config = diagnoses["Filters"][0]["CategoryFilter"]["Configuration"]["FilterListConfiguration"]
    assert config["CategoryValues"] == ["diagnoses"]
    scope = diagnoses["ScopeConfiguration"]["SelectedSheets"]["SheetVisualScopingConfigurations"]
    assert scope == [{"SheetId": "clinical", "Scope": "SELECTED_VISUALS", "VisualIds": ["clinical-diagnoses"]}]


def _fields(visual: dict):
    """Every field dict (with a Column) anywhere in a visual definition."""
    stack = [visual]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "Column" in node and "FieldId" in node:
                yield node
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def test_patient_parameter_filters_every_visual_of_all_three_modalities():
    body = next(d for d in _plan().dashboards if d["DashboardId"] == PATIENT.id)
    definition = body["Definition"]
    (param,) = definition["ParameterDeclarations"]
    assert param["StringParameterDeclaration"]["Name"] == quicksight.PATIENT_PARAMETER
    (sheet,) = definition["Sheets"]
    (control,) = sheet["ParameterControls"]
    assert control["Dropdown"]["SourceParameterName"] == quicksight.PATIENT_PARAMETER
    assert control["Dropdown"]["SelectableValues"]["LinkToDataSetColumn"] == {
        "DataSetIdentifier": "patient_360", "ColumnName": "patient_key"}
    visual_ids = {next(iter(v.values()))["VisualId"] for v in sheet["Visuals"]}
    filtered: dict[str, str] = {}
    parameter_groups = [g for g in definition["FilterGroups"]
                        if "CustomFilterConfiguration" in g["Filters"][0]["CategoryFilter"]["Configuration"]]
    assert len(parameter_groups) == len(PATIENT.models())  # one per data set the sheet reads
    for group in parameter_groups:
        (flt,) = group["Filters"]
        cat = flt["CategoryFilter"]
        assert cat["Configuration"]["CustomFilterConfiguration"]["ParameterName"] == quicksight.PATIENT_PARAMETER
        assert cat["Column"]["ColumnName"] == "patient_key"
        for scope in group["ScopeConfiguration"]["SelectedSheets"]["SheetVisualScopingConfigurations"]:
            for vid in scope["VisualIds"]:
                filtered[vid] = cat["Column"]["DataSetIdentifier"]
    assert set(filtered) == visual_ids  # no visual escapes the patient filter
    # ... and each visual is filtered on the data set it reads.
    for visual in PATIENT.visuals():
        assert filtered[visual.id] == visual.model
    assert {"patient_timeline", "fct_variant_clinvar", "fct_radiomics"} <= set(filtered.values())


def test_column_types_come_from_the_manifest():
    assert quicksight_type("varchar") == "STRING"
    assert quicksight_type("BIGINT") == "INTEGER"
    assert quicksight_type("decimal(10, 2)") == "DECIMAL"
    assert quicksight_type("timestamp(6) with time zone") == "DATETIME"
    assert quicksight_type("date") == "DATETIME"
    assert quicksight_type("boolean") == "BOOLEAN"
    assert quicksight_type("array(varchar)") is None and quicksight_type("VARCHAR[]") is None
    with pytest.raises(ValueError):
        quicksight_type("geometry")
    plan = _plan()
    ds = next(d for d in plan.data_sets if d["DataSetId"] == "mmhealth-sq-encounters-by-year-class")
    table = ds["PhysicalTableMap"]["dbt"]["RelationalTable"]
    assert {c["Name"]: c["Type"] for c in table["InputColumns"]}["encounter_year"] == "DATETIME"
    assert table["Schema"] == "mmhealth_marts" and table["Catalog"] == "AwsDataCatalog"
    assert table["DataSourceArn"] == DS_ARN


def test_columns_above_the_group_clearance_stay_out():
    extra = {"patient_360": {"birth_date": {"data_type": "date", "sensitivity": "phi"}},
             "sq_patients_by_age_band_sex": {"site_code": {"sensitivity": "internal"}}}
    plan = _plan("phi", fake_manifest(extra=extra))
    ds = next(d for d in plan.data_sets if d["DataSetId"] == "mmhealth-patient-360")
    names = {c["Name"] for c in ds["PhysicalTableMap"]["dbt"]["RelationalTable"]["InputColumns"]}
    assert "birth_date" in names and "patient_key" in names  # a phi-cleared group, a phi dashboard
    # A population data set is capped at the population dashboard's classification (public), whoever deploys it.
    pop = next(d for d in plan.data_sets if d["DataSetId"] == "mmhealth-sq-patients-by-age-band-sex")
    assert "site_code" not in {c["Name"] for c in pop["PhysicalTableMap"]["dbt"]["RelationalTable"]["InputColumns"]}
    assert any("site_code" in n for n in plan.notes)
    # Below phi, the patient dashboard (PHI as a whole) is skipped, not half-built - even when the manifest
    # classifies every column it reads internal, as this one does.
    for clearance in ("internal", "public"):
        below = _plan(clearance)
        assert below.skipped == [PATIENT.id]
        assert [d["DashboardId"] for d in below.dashboards] == [POPULATION.id]
        assert {d["DataSetId"] for d in below.data_sets} == {quicksight.data_set_id(m) for m in POPULATION.models()}
        assert any(n.startswith(f"{PATIENT.id} skipped: the dashboard is classified phi") for n in below.notes)


def test_every_grant_of_a_phi_data_set_or_the_patient_dashboard_goes_to_the_phi_group():
    """What the plan grants: the patient dashboard and every data set it reads, to the phi-cleared group only,
    with read-only actions; nothing at all of them for a group below phi."""
    plan = _plan("phi")
    patient_sets = {quicksight.data_set_id(m) for m in PATIENT.models()}
    for body in [*plan.data_sets, *plan.dashboards, plan.data_source]:
        assert [p["Principal"] for p in body["Permissions"]] == [GROUP_ARN]
        actions = set(body["Permissions"][0]["Actions"])
        assert not {a for a in actions if a.split(":")[1].startswith(("Update", "Delete", "Create"))}
    assert patient_sets <= {d["DataSetId"] for d in plan.data_sets}
    internal = _plan("internal")
    assert not patient_sets & {d["DataSetId"] for d in internal.data_sets}
    assert PATIENT.id not in {d["DashboardId"] for d in internal.dashboards}


def test_group_comes_from_the_governance_policy(tmp_path):
    policy = tmp_path / "policy.yml"
    policy.write_text(
        "version: 1\nprincipals:\n"
        "  analysts:\n    type: quicksight_group\n"
        "    arn: 'arn:aws:quicksight:{region}:{account_id}:group/default/analysts'\n    clearance: internal\n"
        "  clinicians:\n    type: iam_role\n    arn: 'arn:aws:iam::{account_id}:role/c'\n    clearance: phi\n"
    )
    group = resolve_group(tmp_path, group=None, group_arn=None, clearance=None, account=ACCOUNT, region=REGION)
    assert group.arn == GROUP_ARN and group.clearance == "internal" and group.source == str(policy)
    override = resolve_group(tmp_path, group=None, group_arn="arn:aws:quicksight:us-east-1:1:group/default/x",
                             clearance=None, account=ACCOUNT, region=REGION)
    assert override.name == "x" and override.clearance == "internal"
    # the command line lowers a clearance, never raises it: PHI goes only to a group the policy clears for it
    assert resolve_group(tmp_path, group=None, group_arn=None, clearance="public", account=ACCOUNT,
                         region=REGION).clearance == "public"
    for kwargs in ({"group": None, "group_arn": None}, {"group": "analysts", "group_arn": None},
                   {"group": None, "group_arn": GROUP_ARN},  # the policy's group by ARN: still the policy's clearance
                   {"group": None, "group_arn": "arn:aws:quicksight:us-east-1:1:group/default/x"},
                   {"group": "someone-else", "group_arn": None}):
        with pytest.raises(MMHealthError, match="--clearance phi: .* raise it in the policy"):
            resolve_group(tmp_path, clearance="phi", account=ACCOUNT, region=REGION, **kwargs)
    (tmp_path / "more.yml").write_text(
        "principals:\n  viewers:\n    type: quicksight_group\n    arn: 'arn:aws:quicksight:us-east-1:1:group/default/v'\n"
        "    clearance: public\n")
    with pytest.raises(MMHealthError, match="several QuickSight groups"):
        resolve_group(tmp_path, group=None, group_arn=None, clearance=None, account=ACCOUNT, region=REGION)
    assert resolve_group(tmp_path, group="viewers", group_arn=None, clearance=None, account=ACCOUNT,
                         region=REGION).clearance == "public"
    with pytest.raises(MMHealthError, match="no principal of type quicksight_group"):
        resolve_group(tmp_path / "none", group=None, group_arn=None, clearance=None, account=ACCOUNT, region=REGION)


class _Recorder:
    """Records every request a client sends, after botocore serialised-parameter validation."""

    def __init__(self, client):
        self.calls: list[tuple[str, dict]] = []
        client.meta.events.register("provide-client-params.quicksight.*", self._record)

    def _record(self, params, model, **_):
        self.calls.append((model.name, copy.deepcopy(params)))


def test_create_on_moto_with_every_request_validated(moto_reset):
    client = boto3.client("quicksight", region_name=REGION, endpoint_url=moto_reset)
    recorder = _Recorder(client)
    plan = _plan()
    report = deploy.deploy(client, plan)
    assert report.count("created") == 1 + len(plan.data_sets) + 2
    service = client.meta.service_model
    for operation, params in recorder.calls:
        validate_parameters(params, service.operation_model(operation).input_shape)
    ops = [op for op, _ in recorder.calls]
    assert ops.count("CreateDataSet") == len(plan.data_sets) and ops.count("CreateDashboard") == 2
    sources = client.list_data_sources(AwsAccountId=ACCOUNT)["DataSources"]
    assert [s["DataSourceId"] for s in sources] == ["mmhealth-athena"]
    assert sources[0]["DataSourceParameters"] == {"AthenaParameters": {"WorkGroup": "primary"}}
    boards = {d["DashboardId"] for d in client.list_dashboards(AwsAccountId=ACCOUNT)["DashboardSummaryList"]}
    assert boards == {POPULATION.id, PATIENT.id}
    described = client.describe_dashboard(AwsAccountId=ACCOUNT, DashboardId=PATIENT.id)["Dashboard"]
    assert described["Name"] == PATIENT.name


POLICY_GROUPS = (
    "principals:\n"
    "  analysts:\n    type: quicksight_group\n"
    "    arn: 'arn:aws:quicksight:{region}:{account_id}:group/default/analysts'\n    clearance: internal\n"
    "  clinicians:\n    type: quicksight_group\n"
    "    arn: 'arn:aws:quicksight:{region}:{account_id}:group/default/clinicians'\n    clearance: phi\n")
CLINICIANS_ARN = f"arn:aws:quicksight:{REGION}:{ACCOUNT}:group/default/clinicians"


def test_cli_gates_the_patient_dashboard_to_the_phi_cleared_group_on_moto(moto_reset, tmp_path, capsys, monkeypatch):
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(fake_manifest()))
    policy = tmp_path / "governance"
    policy.mkdir()
    (policy / "policy.yml").write_text(POLICY_GROUPS)
    base = ["dashboards", "quicksight", "--account", ACCOUNT, "--region", REGION, "--manifest", str(manifest),
            "--governance", str(policy), "--endpoint-url", moto_reset]
    client = boto3.client("quicksight", region_name=REGION, endpoint_url=moto_reset)
    # moto answers no Describe*Permissions: record the grants the command sends instead
    recorders, make_client = [], boto3.client

    def recording_client(*args, **kwargs):
        made = make_client(*args, **kwargs)
        recorders.append(_Recorder(made))
        return made

    monkeypatch.setattr(boto3, "client", recording_client)

    def granted() -> dict[str, set[str]]:
        """resource id -> principals granted, over every request sent so far."""
        out: dict[str, set[str]] = {}
        for rec in recorders:
            for op, params in rec.calls:
                rid = params.get("DashboardId") or params.get("DataSetId") or params.get("DataSourceId")
                for perm in params.get("Permissions") or params.get("GrantPermissions") or []:
                    out.setdefault(rid, set()).add(perm["Principal"])
        return out

    # the internal group: population only, and asking for phi on the command line is refused
    assert main([*base, "--group", "analysts", "--out", str(tmp_path / "a")]) == 0
    assert "mmhealth-patient skipped: the dashboard is classified phi" in capsys.readouterr().out
    assert {d["DashboardId"] for d in client.list_dashboards(AwsAccountId=ACCOUNT)["DashboardSummaryList"]} == {POPULATION.id}
    assert main([*base, "--group", "analysts", "--clearance", "phi", "--out", str(tmp_path / "x")]) == 1
    assert "--clearance phi: the governance policy" in capsys.readouterr().err
    assert main([*base, "--group-arn", f"arn:aws:quicksight:{REGION}:{ACCOUNT}:group/default/x", "--clearance", "phi",
                 "--out", str(tmp_path / "y")]) == 1
    assert "not declared in the governance policy" in capsys.readouterr().err
    assert {d["DashboardId"] for d in client.list_dashboards(AwsAccountId=ACCOUNT)["DashboardSummaryList"]} == {POPULATION.id}

    # the phi-cleared group declared in the policy: the patient dashboard and its data sets, granted to it alone
    # (on an empty account: moto implements no Update* call, so a second run could not update in place)
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{moto_reset}/moto-api/reset", method="POST")).read()
    out = tmp_path / "c"
    assert main([*base, "--group", "clinicians", "--out", str(out)]) == 0
    assert {d["DashboardId"] for d in client.list_dashboards(AwsAccountId=ACCOUNT)["DashboardSummaryList"]} == {
        POPULATION.id, PATIENT.id}
    written = json.loads((out / "dashboards" / f"{PATIENT.id}.json").read_text())
    assert [p["Principal"] for p in written["Permissions"]] == [CLINICIANS_ARN]
    sent = granted()
    assert sent[PATIENT.id] == {CLINICIANS_ARN}
    for model in PATIENT.models():  # across both runs: only ever granted to the phi-cleared group
        assert sent[quicksight.data_set_id(model)] == {CLINICIANS_ARN}
    assert sent[POPULATION.id] == {GROUP_ARN, CLINICIANS_ARN}
    models = {m for d in DASHBOARDS for m in d.models()}
    assert (out / "data-source.json").exists() and len(list((out / "data-sets").glob("*.json"))) == len(models)


def test_dry_run_calls_nothing(tmp_path, capsys):
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(fake_manifest()))
    rc = main(["dashboards", "quicksight", "--account", ACCOUNT, "--data-source-arn", DS_ARN, "--manifest",
               str(manifest), "--group-arn", GROUP_ARN, "--out", str(tmp_path / "qs"), "--dry-run",
               "--endpoint-url", "http://127.0.0.1:9"])  # nothing listens there: any call would fail
    assert rc == 0
    assert "no AWS call made" in capsys.readouterr().out
    assert not (tmp_path / "qs" / "data-source.json").exists()  # an existing data source is not redefined
    body = json.loads((tmp_path / "qs" / "data-sets" / "mmhealth-sq-encounters-by-year-class.json").read_text())
    assert body["PhysicalTableMap"]["dbt"]["RelationalTable"]["DataSourceArn"] == DS_ARN
    # a group the policy does not declare is not phi-cleared: no patient dashboard, no patient data sets
    assert not (tmp_path / "qs" / "data-sets" / "mmhealth-fct-radiomics.json").exists()
    assert not (tmp_path / "qs" / "dashboards" / f"{PATIENT.id}.json").exists()


def test_existing_assets_are_updated_and_republished():
    """moto implements neither Update* nor DescribeDataSet, so the update path runs against a Stubber, which
    checks each request against the same service model and the expected parameters."""
    plan = _plan()
    client = boto3.client("quicksight", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(client)
    ds = plan.data_source
    stub.add_response("describe_data_source", {"DataSource": {"DataSourceId": ds["DataSourceId"]}, "Status": 200},
                      {"AwsAccountId": ACCOUNT, "DataSourceId": ds["DataSourceId"]})
    stub.add_response("update_data_source", {"Arn": DS_ARN, "DataSourceId": ds["DataSourceId"], "Status": 200},
                      {k: ds[k] for k in ("AwsAccountId", "DataSourceId", "Name", "DataSourceParameters")})
    stub.add_response("update_data_source_permissions", {"Status": 200},
                      {"AwsAccountId": ACCOUNT, "DataSourceId": ds["DataSourceId"], "GrantPermissions": ds["Permissions"]})
    for body in plan.data_sets:
        stub.add_client_error("create_data_set", "ResourceExistsException", http_status_code=409,
                              expected_params=body)
        update = {k: body[k] for k in ("AwsAccountId", "DataSetId", "Name", "PhysicalTableMap", "LogicalTableMap",
                                       "ImportMode")}
        stub.add_response("update_data_set", {"DataSetId": body["DataSetId"], "Status": 200}, update)
        stub.add_response("update_data_set_permissions", {"DataSetId": body["DataSetId"], "Status": 200},
                          {"AwsAccountId": ACCOUNT, "DataSetId": body["DataSetId"],
                           "GrantPermissions": body["Permissions"]})
    for body in plan.dashboards:
        stub.add_response("describe_dashboard", {"Dashboard": {"DashboardId": body["DashboardId"]}, "Status": 200},
                          {"AwsAccountId": ACCOUNT, "DashboardId": body["DashboardId"]})
        arn = f"arn:aws:quicksight:{REGION}:{ACCOUNT}:dashboard/{body['DashboardId']}"
        stub.add_response("update_dashboard", {"Arn": arn, "VersionArn": f"{arn}/version/4",
                                               "DashboardId": body["DashboardId"], "Status": 202},
                          {k: body[k] for k in ("AwsAccountId", "DashboardId", "Name", "Definition",
                                                "DashboardPublishOptions")})
        stub.add_response("update_dashboard_permissions", {"DashboardId": body["DashboardId"], "Status": 200},
                          {"AwsAccountId": ACCOUNT, "DashboardId": body["DashboardId"],
                           "GrantPermissions": body["Permissions"]})
        stub.add_response("update_dashboard_published_version", {"DashboardId": body["DashboardId"], "Status": 200},
                          {"AwsAccountId": ACCOUNT, "DashboardId": body["DashboardId"], "VersionNumber": 4})
    with stub:
        report = deploy.deploy(client, plan)
        stub.assert_no_pending_responses()
    assert report.count("updated") == 1 + len(plan.data_sets) + 2 and report.count("created") == 0


def test_access_denied_is_one_clear_error():
    plan = _plan()
    client = boto3.client("quicksight", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(client)
    stub.add_client_error("describe_data_source", "AccessDeniedException", http_status_code=403)
    with stub, pytest.raises(MMHealthError, match="AccessDeniedException"):
        deploy.deploy(client, plan)
