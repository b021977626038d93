"""Send a QuickSight plan: create what is missing, update what exists (I/O edge of `quicksight.py`).

Create-or-update per asset type, using only calls whose failure modes are documented:
- data source: DescribeDataSource, then CreateDataSource or UpdateDataSource + UpdateDataSourcePermissions;
- data set: CreateDataSet, and on ResourceExistsException UpdateDataSet + UpdateDataSetPermissions
  (one round trip in the common case, and no dependence on List/Describe of data sets);
- dashboard: DescribeDashboard, then CreateDashboard, or UpdateDashboard + UpdateDashboardPermissions +
  UpdateDashboardPublishedVersion (an update makes a new version that viewers see only once published).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from mmhealth.dashboards.quicksight import Plan, validate_request
from mmhealth.errors import MMHealthError

_UPDATE_DATA_SET_KEYS = ("AwsAccountId", "DataSetId", "Name", "PhysicalTableMap", "LogicalTableMap", "ImportMode")
_UPDATE_DASHBOARD_KEYS = (
    "AwsAccountId", "DashboardId", "Name", "Definition", "DashboardPublishOptions", "VersionDescription",
)


@dataclass
class Outcome:
    kind: str  # data-source | data-set | dashboard
    resource_id: str
    action: str  # created | updated
    arn: str | None = None


@dataclass
class DeployReport:
    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for o in self.outcomes if o.action == action)


def _error_code(exc: Exception) -> str | None:
    response = getattr(exc, "response", None) or {}
    return (response.get("Error") or {}).get("Code")


def _call(client, operation: str, params: dict) -> dict:
    """Validate against the service model, then call. Validation also happens inside botocore, but doing it
    here keeps the guarantee even for a client built with parameter validation turned off."""
    validate_request(operation, params)
    method = getattr(client, re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower())
    return method(**params)


def _permissions_update(resource_key: str, request: dict) -> dict:
    return {
        "AwsAccountId": request["AwsAccountId"],
        resource_key: request[resource_key],
        "GrantPermissions": request.get("Permissions", []),
    }


def deploy_data_source(client, request: dict) -> Outcome:
    ds_id = request["DataSourceId"]
    try:
        _call(client, "DescribeDataSource", {"AwsAccountId": request["AwsAccountId"], "DataSourceId": ds_id})
    except Exception as exc:
        if _error_code(exc) != "ResourceNotFoundException":
            raise
        response = _call(client, "CreateDataSource", request)
        return Outcome("data-source", ds_id, "created", response.get("Arn"))
    update = {k: request[k] for k in ("AwsAccountId", "DataSourceId", "Name", "DataSourceParameters") if k in request}
    response = _call(client, "UpdateDataSource", update)
    if request.get("Permissions"):
        _call(client, "UpdateDataSourcePermissions", _permissions_update("DataSourceId", request))
    return Outcome("data-source", ds_id, "updated", response.get("Arn"))


def deploy_data_set(client, request: dict) -> Outcome:
    ds_id = request["DataSetId"]
    try:
        response = _call(client, "CreateDataSet", request)
        return Outcome("data-set", ds_id, "created", response.get("Arn"))
    except Exception as exc:
        if _error_code(exc) != "ResourceExistsException":
            raise
    response = _call(client, "UpdateDataSet", {k: request[k] for k in _UPDATE_DATA_SET_KEYS if k in request})
    if request.get("Permissions"):
        _call(client, "UpdateDataSetPermissions", _permissions_update("DataSetId", request))
    return Outcome("data-set", ds_id, "updated", response.get("Arn"))


def deploy_dashboard(client, request: dict) -> Outcome:
    dash_id = request["DashboardId"]
    try:
        _call(client, "DescribeDashboard", {"AwsAccountId": request["AwsAccountId"], "DashboardId": dash_id})
    except Exception as exc:
        if _error_code(exc) != "ResourceNotFoundException":
            raise
        response = _call(client, "CreateDashboard", request)
        return Outcome("dashboard", dash_id, "created", response.get("Arn"))
    response = _call(client, "UpdateDashboard", {k: request[k] for k in _UPDATE_DASHBOARD_KEYS if k in request})
    if request.get("Permissions"):
        _call(client, "UpdateDashboardPermissions", _permissions_update("DashboardId", request))
    version = _version_number(response.get("VersionArn"))
    if version is not None:
        _call(
            client,
            "UpdateDashboardPublishedVersion",
            {"AwsAccountId": request["AwsAccountId"], "DashboardId": dash_id, "VersionNumber": version},
        )
    return Outcome("dashboard", dash_id, "updated", response.get("Arn"))


def _version_number(version_arn: str | None) -> int | None:
    match = re.search(r"/version/(\d+)$", version_arn or "")
    return int(match.group(1)) if match else None


def deploy(client, plan: Plan, progress=None) -> DeployReport:
    """Apply the plan in dependency order: data source, data sets, dashboards."""
    report = DeployReport()
    steps = []
    if plan.data_source:
        steps.append((deploy_data_source, plan.data_source))
    steps += [(deploy_data_set, r) for r in plan.data_sets]
    steps += [(deploy_dashboard, r) for r in plan.dashboards]
    for func, request in steps:
        try:
            report.outcomes.append(func(client, request))
        except MMHealthError:
            raise
        except Exception as exc:
            code = _error_code(exc)
            if code in ("AccessDeniedException", "UnrecognizedClientException", "ExpiredTokenException"):
                raise MMHealthError(
                    f"QuickSight: {code} while applying {func.__name__.removeprefix('deploy_')} - use credentials "
                    "allowed to manage QuickSight in this account (and an Enterprise edition subscription)"
                ) from exc
            raise
        if progress:
            progress.update(1)
    return report


def write_plan(plan: Plan, out: Path) -> list[Path]:
    """Write every request body as pretty JSON (stable key order) for review in a pull request."""
    written = []
    out.mkdir(parents=True, exist_ok=True)
    items: list[tuple[Path, dict]] = []
    if plan.data_source:
        items.append((out / "data-source.json", plan.data_source))
    items += [(out / "data-sets" / f"{r['DataSetId']}.json", r) for r in plan.data_sets]
    items += [(out / "dashboards" / f"{r['DashboardId']}.json", r) for r in plan.dashboards]
    for path, body in items:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    if plan.notes:
        notes = out / "NOTES.txt"
        notes.write_text("\n".join(plan.notes) + "\n", encoding="utf-8")
        written.append(notes)
    return written
