"""A dbt manifest fragment with the columns the dashboards read, for tests that need no dbt build."""

from __future__ import annotations

from mmhealth.dashboards.layout import DASHBOARDS


def column_type(name: str) -> str:
    """The type a column gets when a test builds a manifest by hand (the marts' naming conventions)."""
    if name.startswith(("has_", "is_")):
        return "boolean"
    if name.startswith(("n_", "patients_with_", "carriers_with_")) or name.endswith(("_count", "_carriers")):
        return "bigint"
    if name.startswith("prevalence_") or name.endswith(("_value", "_mm3", "_per_patient")) or name == "value_numeric":
        return "double"
    if name.endswith(("_date", "_year")):
        return "date"
    if name in ("age_years", "significance_rank"):
        return "integer"
    return "varchar"


def fake_manifest(
    schema: str = "mmhealth_marts", extra: dict[str, dict[str, dict]] | None = None, catalog: str = "awsdatacatalog"
) -> dict:
    columns: dict[str, dict[str, dict]] = {}
    for dash in DASHBOARDS:
        for model in dash.models():
            columns.setdefault(model, {})
            if dash.patient_filter_column:
                columns[model][dash.patient_filter_column] = {}
        if dash.patient_label:
            for column in dash.patient_label.columns():
                columns[dash.patient_list_model][column] = {}
        for visual in dash.visuals():
            for column in visual.columns_read():
                columns[visual.model][column] = {}
    for model, cols in (extra or {}).items():
        columns.setdefault(model, {}).update(cols)
    nodes = {}
    for model, cols in columns.items():
        nodes[f"model.mmhealth.{model}"] = {
            "resource_type": "model",
            "name": model,
            "database": catalog,
            "schema": schema,
            "alias": model,
            "relation_name": f'"{catalog}"."{schema}"."{model}"',
            "original_file_path": f"models/marts/{model}.sql",
            "description": f"{model} for tests",
            "columns": {
                name: {
                    "name": name,
                    "data_type": spec.get("data_type", column_type(name)),
                    "description": f"{name} column",
                    # Aggregated, suppressed saved-query models are public; patient-level marts internal.
                    "meta": {"sensitivity": spec.get("sensitivity", "public" if model.startswith(("sq_", "population_")) else "internal")},
                }
                for name, spec in cols.items()
            },
        }
    return {"metadata": {"adapter_type": "athena"}, "nodes": nodes}
