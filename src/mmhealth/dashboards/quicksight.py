"""QuickSight as code: the request bodies for the data source, the data sets and the two dashboards.

Everything here is pure: it turns `layout.py` and the dbt manifest into the parameters of the QuickSight API's
CreateDataSource / CreateDataSet / CreateDashboard calls. `deploy.py` sends them; `--dry-run` only writes them
as JSON for review. Each body is checked against botocore's service model (`validate_request`), so a definition
that AWS would reject fails here, offline.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mmhealth.dashboards.layout import PATIENT, POPULATION, Dashboard, Field, Visual
from mmhealth.dashboards.manifest import Manifest, Model, quicksight_type, sensitivity_rank
from mmhealth.errors import MMHealthError

PATIENT_PARAMETER = "PatientKey"
DATA_SOURCE_ID = "mmhealth-athena"
ID_PREFIX = "mmhealth-"

# What each dashboard is, whoever deploys it. The population dashboard shows only small-cell-suppressed
# aggregates: public. The patient dashboard shows one patient's records across modalities with exact event
# dates (classified phi in the marts): PHI as a whole, so only a phi-cleared group gets it, even if a manifest
# ever classified its columns lower. A dashboard not listed here counts as phi (fail closed). The cap also
# bounds the data sets a dashboard reads, so a phi-cleared deployer never widens what a public dashboard's
# data sets expose to the groups already granted them.
DASHBOARD_CLEARANCE = {POPULATION.id: "public", PATIENT.id: "phi"}

# Least privilege for the analysts group: read and use, never change or delete.
DATA_SOURCE_ACTIONS = [
    "quicksight:DescribeDataSource",
    "quicksight:DescribeDataSourcePermissions",
    "quicksight:PassDataSource",
]
DATA_SET_ACTIONS = [
    "quicksight:DescribeDataSet",
    "quicksight:DescribeDataSetPermissions",
    "quicksight:PassDataSet",
    "quicksight:DescribeIngestion",
    "quicksight:ListIngestions",
]
DASHBOARD_ACTIONS = [
    "quicksight:DescribeDashboard",
    "quicksight:ListDashboardVersions",
    "quicksight:QueryDashboard",
]


@dataclass(frozen=True)
class Target:
    """Where the assets go and who may see them."""

    account: str
    region: str
    data_source_arn: str
    group_arn: str
    group_clearance: str = "internal"  # highest column sensitivity the group may read
    catalog: str = "AwsDataCatalog"
    import_mode: str = "DIRECT_QUERY"

    def arn(self, kind: str, resource_id: str) -> str:
        return f"arn:aws:quicksight:{self.region}:{self.account}:{kind}/{resource_id}"


@dataclass
class Plan:
    """All request bodies, keyed by API operation, plus what was left out and why."""

    data_source: dict | None
    data_sets: list[dict]
    dashboards: list[dict]
    notes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # dashboards the group may not see


def dashboard_clearance(dash: Dashboard) -> str:
    return DASHBOARD_CLEARANCE.get(dash.id, "phi")


def _lower(a: str, b: str) -> str:
    return a if sensitivity_rank(a) <= sensitivity_rank(b) else b


def group_arn(account: str, region: str, group: str, namespace: str = "default") -> str:
    return f"arn:aws:quicksight:{region}:{account}:group/{namespace}/{group}"


def data_set_id(model: str) -> str:
    return f"{ID_PREFIX}{model.replace('_', '-')}"


def data_source_request(target: Target, workgroup: str, data_source_id: str = DATA_SOURCE_ID) -> dict:
    return {
        "AwsAccountId": target.account,
        "DataSourceId": data_source_id,
        "Name": "mmhealth Athena",
        "Type": "ATHENA",
        "DataSourceParameters": {"AthenaParameters": {"WorkGroup": workgroup}},
        "Permissions": [{"Principal": target.group_arn, "Actions": DATA_SOURCE_ACTIONS}],
        "Tags": [{"Key": "project", "Value": "mmhealth"}],
    }


def data_set_request(model: Model, target: Target, needed: set[str], notes: list[str], cap: str | None = None) -> dict:
    """CreateDataSet body for one dbt model: an Athena relational table with the manifest's column types.
    Columns above the group's clearance (or above `cap`, the classification of the dashboards reading the
    model, when lower), and nested types QuickSight cannot read, are left out (noted); a column a visual
    needs must survive, else this is an error naming the column and the fix."""
    level = _lower(target.group_clearance, cap) if cap else target.group_clearance
    limit = sensitivity_rank(level)
    input_columns, descriptions = [], []
    for col in model.columns:
        try:
            qs_type = quicksight_type(col.data_type)
        except ValueError as exc:
            raise MMHealthError(
                f"{model.path}: column '{col.name}' of {model.name}: {exc} - declare data_type in the model's "
                "YAML (contract) so QuickSight gets the right column type"
            ) from None
        if qs_type is None:
            notes.append(f"{model.name}.{col.name}: nested type {col.data_type} left out of the data set")
            continue
        if sensitivity_rank(col.sensitivity) > limit:
            notes.append(
                f"{model.name}.{col.name}: sensitivity {col.sensitivity or 'unclassified'} above {level} "
                f"(the group's clearance, or the dashboard's classification); left out of the data set"
            )
            continue
        input_columns.append({"Name": col.name, "Type": qs_type})
        if col.description:
            descriptions.append(
                {"TagColumnOperation": {"ColumnName": col.name, "Tags": [{"ColumnDescription": {"Text": col.description[:500]}}]}}
            )
    kept = {c["Name"] for c in input_columns}
    missing = sorted(needed - kept)
    if missing:
        raise MMHealthError(
            f"{model.path}: {model.name} lacks column(s) {', '.join(missing)} that the dashboards use (absent, "
            f"untyped or above '{level}') - fix the model or the group's clearance"
        )
    if not input_columns:
        raise MMHealthError(f"{model.path}: {model.name} has no columns in the manifest - describe them in its YAML")
    logical = {"Alias": model.name, "Source": {"PhysicalTableId": "dbt"}}
    if descriptions:
        logical["DataTransforms"] = descriptions
    return {
        "AwsAccountId": target.account,
        "DataSetId": data_set_id(model.name),
        "Name": f"mmhealth {model.name}",
        "PhysicalTableMap": {
            "dbt": {
                "RelationalTable": {
                    "DataSourceArn": target.data_source_arn,
                    "Catalog": target.catalog,
                    "Schema": model.schema,
                    "Name": model.alias,
                    "InputColumns": input_columns,
                }
            }
        },
        "LogicalTableMap": {"dbt": logical},
        "ImportMode": target.import_mode,
        "Permissions": [{"Principal": target.group_arn, "Actions": DATA_SET_ACTIONS}],
        "Tags": [{"Key": "project", "Value": "mmhealth"}, {"Key": "dbt_model", "Value": model.name}],
    }


def _text(text: str) -> dict:
    return {"Visibility": "VISIBLE", "FormatText": {"PlainText": text}}


class _Fields:
    """Turns layout fields into QuickSight field shapes, knowing each column's type."""

    def __init__(self, visual: Visual, types: dict[str, str], min_cell: int):
        self.visual = visual
        self.types = types
        self.min_cell = min_cell

    def column(self, f: Field) -> dict:
        return {"DataSetIdentifier": self.visual.model, "ColumnName": f.column}

    def field_id(self, f: Field, slot: str) -> str:
        return f"{self.visual.id}.{slot}.{f.column}"

    def dimension(self, f: Field, slot: str) -> dict:
        qs_type = self.types[f.column]
        body = {"FieldId": self.field_id(f, slot), "Column": self.column(f)}
        if qs_type == "DATETIME":
            return {"DateDimensionField": {**body, "DateGranularity": f.granularity}}
        if qs_type in ("INTEGER", "DECIMAL"):
            return {"NumericalDimensionField": body}
        return {"CategoricalDimensionField": body}

    def null_format(self, f: Field) -> dict | None:
        """Suppressed counts are NULL in the marts (the suppress() macro nulls nothing else): print them as
        "<11", never blank or zero. A NULL ratio or statistic may also be missing data, so it prints "n/a"."""
        if not f.suppression:
            return None
        text = f"<{self.min_cell}" if f.suppression == "count" else "n/a"
        return {"NumberDisplayFormatConfiguration": {"NullValueFormatConfiguration": {"NullString": text}}}

    def measure(self, f: Field, slot: str) -> dict:
        qs_type = self.types[f.column]
        body = {"FieldId": self.field_id(f, slot), "Column": self.column(f)}
        if qs_type not in ("INTEGER", "DECIMAL"):
            # Counting rows of a text column (e.g. events): QuickSight's categorical COUNT.
            return {"CategoricalMeasureField": {**body, "AggregationFunction": "COUNT"}}
        measure = {**body, "AggregationFunction": {"SimpleNumericalAggregation": f.aggregation}}
        if (null := self.null_format(f)) is not None:
            measure["FormatConfiguration"] = {"FormatConfiguration": null}
        return {"NumericalMeasureField": measure}

    def unaggregated(self, f: Field) -> dict:
        body: dict = {"FieldId": self.field_id(f, "col"), "Column": self.column(f)}
        if (null := self.null_format(f)) is not None and self.types[f.column] in ("INTEGER", "DECIMAL"):
            body["FormatConfiguration"] = {"NumberFormatConfiguration": {"FormatConfiguration": null}}
        return body


def visual_definition(visual: Visual, types: dict[str, str], min_cell: int) -> dict:
    fields = _Fields(visual, types, min_cell)
    common = {"VisualId": visual.id, "Title": _text(visual.title)}
    if visual.subtitle:
        common["Subtitle"] = _text(visual.subtitle)
    if visual.kind in ("bar", "line"):
        wells: dict = {
            "Category": [fields.dimension(visual.x, "x")] if visual.x else [],
            "Values": [fields.measure(v, "y") for v in visual.values],
        }
        if visual.color:
            wells["Colors"] = [fields.dimension(visual.color, "color")]
        if visual.kind == "bar":
            config = {
                "FieldWells": {"BarChartAggregatedFieldWells": wells},
                "Orientation": "VERTICAL",
                "BarsArrangement": "STACKED" if visual.stacked else "CLUSTERED",
            }
            return {"BarChartVisual": {**common, "ChartConfiguration": config, "Actions": []}}
        config = {"FieldWells": {"LineChartAggregatedFieldWells": wells}}
        return {"LineChartVisual": {**common, "ChartConfiguration": config, "Actions": []}}
    if visual.kind == "table":
        config: dict = {
            "FieldWells": {"TableUnaggregatedFieldWells": {"Values": [fields.unaggregated(c) for c in visual.columns]}}
        }
        if visual.sort:
            column, direction = visual.sort
            sort_field = next(c for c in visual.columns if c.column == column)
            config["SortConfiguration"] = {
                "RowSort": [{"FieldSort": {"FieldId": fields.field_id(sort_field, "col"), "Direction": direction}}]
            }
        return {"TableVisual": {**common, "ChartConfiguration": config, "Actions": []}}
    raise ValueError(f"visual kind {visual.kind!r} has no QuickSight rendering")


def dashboard_request(
    dash: Dashboard, target: Target, types_by_model: dict[str, dict[str, str]], min_cell: int = 11
) -> dict:
    declarations = [
        {"Identifier": model, "DataSetArn": target.arn("dataset", data_set_id(model))} for model in dash.models()
    ]
    sheets = []
    for sheet in dash.sheets:
        body: dict = {
            "SheetId": sheet.id,
            "Name": sheet.name,
            "Title": sheet.name,
            "Visuals": [visual_definition(v, types_by_model[v.model], min_cell) for v in sheet.visuals],
            "Layouts": [
                {
                    "Configuration": {
                        "GridLayout": {
                            "Elements": [
                                {"ElementId": v.id, "ElementType": "VISUAL", "ColumnSpan": 18, "RowSpan": 12}
                                for v in sheet.visuals
                            ]
                        }
                    }
                }
            ],
            "ContentType": "INTERACTIVE",
        }
        if sheet.description:
            body["Description"] = sheet.description
        if dash.patient_filter_column:
            body["ParameterControls"] = [
                {
                    "Dropdown": {
                        "ParameterControlId": f"{sheet.id}-patient-control",
                        "Title": "Patient",
                        "SourceParameterName": PATIENT_PARAMETER,
                        "Type": "SINGLE_SELECT",
                        "SelectableValues": {
                            "LinkToDataSetColumn": {
                                "DataSetIdentifier": dash.patient_list_model,
                                "ColumnName": dash.patient_filter_column,
                            }
                        },
                    }
                }
            ]
        sheets.append(body)
    definition: dict = {"DataSetIdentifierDeclarations": declarations, "Sheets": sheets}
    groups = visual_filter_groups(dash)
    if dash.patient_filter_column:
        definition["ParameterDeclarations"] = [
            {"StringParameterDeclaration": {"ParameterValueType": "SINGLE_VALUED", "Name": PATIENT_PARAMETER}}
        ]
        groups = patient_filter_groups(dash) + groups
    if groups:
        definition["FilterGroups"] = groups
    return {
        "AwsAccountId": target.account,
        "DashboardId": dash.id,
        "Name": dash.name,
        "Definition": definition,
        "Permissions": [{"Principal": target.group_arn, "Actions": DASHBOARD_ACTIONS}],
        "DashboardPublishOptions": {
            "AdHocFilteringOption": {"AvailabilityStatus": "DISABLED"},
            "ExportToCSVOption": {"AvailabilityStatus": "DISABLED"},
            "SheetControlsOption": {"VisibilityState": "EXPANDED"},
        },
        "Tags": [{"Key": "project", "Value": "mmhealth"}],
    }


def patient_filter_groups(dash: Dashboard) -> list[dict]:
    """One filter group per data set: a filter reads one data set's column, so each modality's data set gets
    its own `patient_key = ${PatientKey}` filter, scoped to exactly the visuals built on it."""
    groups = []
    for model in dash.models():
        visual_ids_by_sheet = {
            sheet.id: [v.id for v in sheet.visuals if v.model == model] for sheet in dash.sheets
        }
        scoping = [
            {"SheetId": sheet_id, "Scope": "SELECTED_VISUALS", "VisualIds": ids}
            for sheet_id, ids in visual_ids_by_sheet.items()
            if ids
        ]
        if not scoping:
            continue
        groups.append(
            {
                "FilterGroupId": f"patient-{model.replace('_', '-')}",
                "Filters": [
                    {
                        "CategoryFilter": {
                            "FilterId": f"patient-{model.replace('_', '-')}-key",
                            "Column": {"DataSetIdentifier": model, "ColumnName": dash.patient_filter_column},
                            "Configuration": {
                                "CustomFilterConfiguration": {
                                    "MatchOperator": "EQUALS",
                                    "ParameterName": PATIENT_PARAMETER,
                                    "NullOption": "NON_NULLS_ONLY",
                                }
                            },
                        }
                    }
                ],
                "ScopeConfiguration": {"SelectedSheets": {"SheetVisualScopingConfigurations": scoping}},
                "Status": "ENABLED",
                "CrossDataset": "SINGLE_DATASET",
            }
        )
    return groups


def visual_filter_groups(dash: Dashboard) -> list[dict]:
    """A visual's own row filters (e.g. one section of a long population mart), scoped to that visual only."""
    groups = []
    for sheet in dash.sheets:
        for visual in sheet.visuals:
            for i, (column, values) in enumerate(visual.filters):
                groups.append(
                    {
                        "FilterGroupId": f"{visual.id}-filter-{i}",
                        "Filters": [
                            {
                                "CategoryFilter": {
                                    "FilterId": f"{visual.id}-filter-{i}-{column.replace('_', '-')}",
                                    "Column": {"DataSetIdentifier": visual.model, "ColumnName": column},
                                    "Configuration": {
                                        "FilterListConfiguration": {
                                            "MatchOperator": "CONTAINS",
                                            "CategoryValues": list(values),
                                            "NullOption": "NON_NULLS_ONLY",
                                        }
                                    },
                                }
                            }
                        ],
                        "ScopeConfiguration": {
                            "SelectedSheets": {
                                "SheetVisualScopingConfigurations": [
                                    {"SheetId": sheet.id, "Scope": "SELECTED_VISUALS", "VisualIds": [visual.id]}
                                ]
                            }
                        },
                        "Status": "ENABLED",
                        "CrossDataset": "SINGLE_DATASET",
                    }
                )
    return groups


def build_plan(
    dashboards: tuple[Dashboard, ...],
    manifest: Manifest,
    target: Target,
    *,
    min_cell: int = 11,
    data_source: dict | None = None,
) -> Plan:
    """Every request body for the dashboards the group may see. A dashboard classified above the group's
    clearance (DASHBOARD_CLEARANCE: the patient dashboard is phi), or needing a column above it, is skipped
    with a note (not half-built); data sets cover each model a kept dashboard reads, capped at the dashboard's
    classification."""
    notes: list[str] = []
    skipped: list[str] = []
    needed: dict[str, set[str]] = {}
    cap: dict[str, str] = {}  # model -> the highest classification among the kept dashboards reading it
    kept: list[Dashboard] = []
    for dash in dashboards:
        level = dashboard_clearance(dash)
        if sensitivity_rank(level) > sensitivity_rank(target.group_clearance):
            skipped.append(dash.id)
            notes.append(
                f"{dash.id} skipped: the dashboard is classified {level} (patient-level records with exact event "
                f"dates) and the group's clearance is {target.group_clearance} - deploy it for a group the governance "
                "policy clears for phi (--group)"
            )
            continue
        limit_level = _lower(level, target.group_clearance)
        limit = sensitivity_rank(limit_level)
        wants: dict[str, set[str]] = {m: set() for m in dash.models()}
        if dash.patient_filter_column:
            for cols in wants.values():
                cols.add(dash.patient_filter_column)
        for visual in dash.visuals():
            wants[visual.model].update(visual.columns_read())
        too_sensitive = sorted(
            ((sensitivity_rank(col.sensitivity), f"{m}.{c} ({col.sensitivity or 'unclassified'})")
             for m, cols in wants.items()
             for c in cols
             if (col := manifest.model(m).column(c)) is not None and sensitivity_rank(col.sensitivity) > limit),
            reverse=True,
        )
        if too_sensitive:
            skipped.append(dash.id)
            examples = ", ".join(name for _, name in too_sensitive[:3])
            notes.append(
                f"{dash.id} skipped: it reads {len(too_sensitive)} column(s) above "
                f"{limit_level} (the group's clearance {target.group_clearance}, the dashboard's "
                f"classification {level}; e.g. {examples}) - deploy it for a group cleared for them (--group)"
            )
            continue
        kept.append(dash)
        for m, cols in wants.items():
            needed.setdefault(m, set()).update(cols)
            cap[m] = level if m not in cap or sensitivity_rank(level) > sensitivity_rank(cap[m]) else cap[m]
    data_sets, types_by_model = [], {}
    for model_name in needed:
        request = data_set_request(manifest.model(model_name), target, needed[model_name], notes, cap[model_name])
        data_sets.append(request)
        columns = request["PhysicalTableMap"]["dbt"]["RelationalTable"]["InputColumns"]
        types_by_model[model_name] = {c["Name"]: c["Type"] for c in columns}
    boards = [dashboard_request(d, target, types_by_model, min_cell) for d in kept]
    return Plan(data_source=data_source, data_sets=data_sets, dashboards=boards, notes=notes, skipped=skipped)


def validate_request(operation: str, params: dict) -> None:
    """Raise botocore's ParamValidationError when `params` do not fit the QuickSight operation's input shape:
    botocore's own check (names, required members, types, lengths, the one the client makes before sending),
    plus enum values, which botocore leaves to the service."""
    from botocore.exceptions import ParamValidationError
    from botocore.validate import validate_parameters

    shape = _service_model().operation_model(operation).input_shape
    validate_parameters(params, shape)
    bad = list(_enum_errors(params, shape, operation))
    if bad:
        raise ParamValidationError(report="\n".join(bad))


def _enum_errors(value, shape, path: str):
    if shape.type_name == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value:
                yield from _enum_errors(value[name], member, f"{path}.{name}")
    elif shape.type_name == "list" and isinstance(value, list):
        for i, item in enumerate(value):
            yield from _enum_errors(item, shape.member, f"{path}[{i}]")
    elif shape.type_name == "map" and isinstance(value, dict):
        for key, item in value.items():
            yield from _enum_errors(item, shape.value, f"{path}.{key}")
    elif shape.type_name == "string" and getattr(shape, "enum", None) and value not in shape.enum:
        yield f"Invalid value {value!r} for {path}, valid values: {', '.join(shape.enum)}"


_SERVICE_MODEL = None


def _service_model():
    global _SERVICE_MODEL
    if _SERVICE_MODEL is None:
        import botocore.session

        _SERVICE_MODEL = botocore.session.get_session().get_service_model("quicksight")
    return _SERVICE_MODEL


def validate_plan(plan: Plan) -> None:
    if plan.data_source:
        validate_request("CreateDataSource", plan.data_source)
    for request in plan.data_sets:
        validate_request("CreateDataSet", request)
    for request in plan.dashboards:
        validate_request("CreateDashboard", request)
