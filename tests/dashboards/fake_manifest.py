"""A dbt manifest fragment with the columns the dashboards read, for tests that need no dbt build."""

from __future__ import annotations

from mmhealth.dashboards.layout import DASHBOARDS

# Types a column gets when a test builds a manifest by hand; names not listed are varchar.
TYPES = {
    "patient_count": "bigint", "patients_with_clinical": "bigint", "patients_with_genomics": "bigint",
    "patients_with_imaging": "bigint", "encounter_count": "bigint", "pathogenic_variant_carriers": "bigint",
    "image_set_count": "bigint", "encounters_per_patient": "double", "mean_lesion_volume_mm3": "double",
    "lesion_volume_mm3": "double", "encounter_year": "date", "event_date": "date",
    "has_clinical": "boolean", "has_genomics": "boolean", "has_imaging": "boolean",
    "prevalence_stroke": "double", "prevalence_hypertension": "double",
    "prevalence_coronary_heart_disease": "double", "prevalence_alzheimers": "double",
}


def fake_manifest(
    schema: str = "mmhealth_marts", extra: dict[str, dict[str, dict]] | None = None, catalog: str = "awsdatacatalog"
) -> dict:
    columns: dict[str, dict[str, dict]] = {}
    for dash in DASHBOARDS:
        for model in dash.models():
            columns.setdefault(model, {})
            if dash.patient_filter_column:
                columns[model][dash.patient_filter_column] = {}
        for visual in dash.visuals():
            for f in visual.fields():
                columns[visual.model][f.column] = {}
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
                    "data_type": spec.get("data_type", TYPES.get(name, "varchar")),
                    "description": f"{name} column",
                    # Aggregated, suppressed saved-query models are public; patient-level marts internal.
                    "meta": {"sensitivity": spec.get("sensitivity", "public" if model.startswith("sq_") else "internal")},
                }
                for name, spec in cols.items()
            },
        }
    return {"metadata": {"adapter_type": "athena"}, "nodes": nodes}
