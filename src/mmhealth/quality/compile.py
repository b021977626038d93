"""Turn the gate spec (`expectations/gate.yml`) into the Great Expectations 1.x file project beside it.

Pure functions build every suite, validation definition and checkpoint as the JSON GE stores; `write_project`
writes them. IDs are UUIDv5 of the object's name, so compiling twice gives byte-identical files and a reviewer sees
only real changes in a diff. `mmhealth quality compile --check` (run by the tests) fails when the checked-in
project is stale.

Naming:
  suites                  `<mart>` (contract: schema, keys, ranges, labels, completeness, small cells),
                          `<mart>__drift` (against the accepted baseline), `deidentification` (shared)
  validation definitions  `<target>__<mart>__<contract|drift|deidentification>`
  checkpoints             `<checkpoint>__<target>`, e.g. `pre_feature_store__local`
Bounds that depend on the run (label bands widened for the row count, drift bounds from the accepted baseline) are
GE suite parameters (`{"$PARAMETER": name}`) filled in by `mmhealth.quality.runner`.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmhealth.quality.spec import GateSpec, MartSpec

GE_VERSION = "1.24.1"
_NS = uuid.UUID("6f1f3c1e-9a4e-5b7c-8d2e-6d6d68656c74")
LOCAL_DATASOURCE = "local_marts"
ATHENA_DATASOURCE = "athena_marts"
ATHENA_URL_ENV = "MMHEALTH_ATHENA_URL"
BATCH_DEFINITION = "whole_table"
DEID_SUITE = "deidentification"

def _id(kind: str, name: str) -> str:
    return str(uuid.uuid5(_NS, f"{kind}:{name}"))


def param(name: str) -> dict[str, str]:
    return {"$PARAMETER": name}


def label_param(mart: str, column: str, bound: str) -> str:
    return f"{mart}__{column}__prevalence_{bound}"


def drift_param(mart: str, column: str, stat: str, bound: str) -> str:
    return f"{mart}__{column}__{stat}_{bound}"


def _exp(suite: str, type_: str, check: str, meta: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    meta = {"check": check, **(meta or {})}
    ident = f"{suite}:{type_}:{json.dumps(kwargs, sort_keys=True)}"
    return {"id": _id("expectation", ident), "kwargs": kwargs, "meta": meta, "severity": "critical", "type": type_}


def contract_suite(spec: GateSpec, mart: MartSpec) -> dict[str, Any]:
    s = mart.name
    ex = [
        _exp(s, "expect_table_row_count_to_be_between", "schema", min_value=mart.min_rows, max_value=None),
        _exp(s, "expect_table_columns_to_match_set", "schema", column_set=sorted(mart.columns), exact_match=True),
    ]
    ex.append(_exp(s, "expect_table_columns_to_have_logical_types", "schema", column_types=dict(mart.columns)))
    if len(mart.key) == 1:
        ex.append(_exp(s, "expect_column_values_to_be_unique", "key", column=mart.key[0]))
    elif mart.key:
        ex.append(_exp(s, "expect_compound_columns_to_be_unique", "key", column_list=list(mart.key)))
    for col in mart.key:
        ex.append(_exp(s, "expect_column_values_to_not_be_null", "key", column=col))
    for col in mart.not_null:
        if col not in mart.key:
            ex.append(_exp(s, "expect_column_values_to_not_be_null", "not_null", column=col))
    for r in mart.ranges:
        ex.append(_exp(s, "expect_column_values_to_be_between", "range", column=r.column, min_value=r.min, max_value=r.max))
    for band in mart.labels:
        ex.append(_exp(s, "expect_column_true_share_to_be_between", "label_prevalence", column=band.column,
                       min_value=param(label_param(s, band.column, "min")),
                       max_value=param(label_param(s, band.column, "max"))))
    for mod in mart.completeness:
        for col in mod.columns:
            ex.append(_exp(s, "expect_column_proportion_of_non_null_values_to_be_between", "completeness",
                           {"modality": mod.name}, column=col, min_value=mod.min_non_null, max_value=1.0))
    for col in mart.suppressed_counts:
        # Small-cell suppression: a count from 1 to threshold-1 must have been nulled by the mart (0 may stay).
        ex.append(_exp(s, "expect_column_values_to_not_be_in_set", "small_cell", column=col,
                       value_set=list(range(1, spec.small_cell_threshold))))
    return _suite(s, ex, mart.description)


def drift_suite(mart: MartSpec) -> dict[str, Any]:
    s = f"{mart.name}__drift"
    ex = []
    for col in mart.drift:
        for stat, type_ in (("mean", "expect_column_mean_to_be_between"),
                            ("median", "expect_column_median_to_be_between"),
                            ("stdev", "expect_column_stdev_to_be_between")):
            ex.append(_exp(s, type_, "drift", column=col,
                           min_value=param(drift_param(mart.name, col, stat, "min")),
                           max_value=param(drift_param(mart.name, col, stat, "max"))))
    return _suite(s, ex, f"Distribution drift of {mart.name} against its last accepted run.")


def deid_suite(spec: GateSpec) -> dict[str, Any]:
    s = DEID_SUITE
    ex = [
        _exp(s, "expect_table_columns_to_not_match_identifier_names", "deidentification",
             patterns=list(spec.deid.forbidden_column_names)),
        _exp(s, "expect_table_values_to_not_look_like_identifiers", "deidentification",
             shapes=dict(spec.deid.identifier_value_shapes)),
    ]
    return _suite(s, ex, "No direct identifier (HIPAA Safe Harbor kinds) by column name or by value shape.")


def _suite(name: str, expectations: list[dict[str, Any]], notes: str) -> dict[str, Any]:
    return {"expectations": expectations, "id": _id("suite", name),
            "meta": {"great_expectations_version": GE_VERSION}, "name": name, "notes": notes or None}


@dataclass(frozen=True)
class Validation:
    name: str
    target: str
    mart: str
    kind: str  # contract | drift | deidentification
    suite: str


def validations_for(spec: GateSpec, checkpoint: str, target: str) -> list[Validation]:
    out = []
    for mart_name in spec.checkpoint(checkpoint).marts:
        mart = spec.mart(mart_name)
        out.append(Validation(f"{target}__{mart_name}__contract", target, mart_name, "contract", mart_name))
        if mart.deidentify:
            out.append(Validation(f"{target}__{mart_name}__deidentification", target, mart_name,
                                  "deidentification", DEID_SUITE))
        if mart.drift:
            out.append(Validation(f"{target}__{mart_name}__drift", target, mart_name, "drift", f"{mart.name}__drift"))
    return out


def checkpoint_name(checkpoint: str, target: str) -> str:
    return f"{checkpoint}__{target}"


def _datasource(target: str) -> str:
    return LOCAL_DATASOURCE if target == "local" else ATHENA_DATASOURCE


def validation_definition(v: Validation) -> dict[str, Any]:
    ds = _datasource(v.target)
    return {
        "data": {
            "asset": {"id": _id("asset", f"{ds}.{v.mart}"), "name": v.mart},
            "batch_definition": {"id": _id("batch", f"{ds}.{v.mart}.{BATCH_DEFINITION}"), "name": BATCH_DEFINITION},
            "datasource": {"id": _id("datasource", ds), "name": ds},
        },
        "id": _id("validation", v.name),
        "name": v.name,
        "suite": {"id": _id("suite", v.suite), "name": v.suite},
    }


def checkpoint_json(spec: GateSpec, checkpoint: str, target: str) -> dict[str, Any]:
    name = checkpoint_name(checkpoint, target)
    return {
        "actions": [{"name": "update_data_docs", "site_names": [], "type": "update_data_docs"}],
        "id": _id("checkpoint", name),
        "name": name,
        # SUMMARY with a short sample: enough to debug a range failure, little enough never to dump a column.
        "result_format": {"result_format": "SUMMARY", "partial_unexpected_count": 5},
        "validation_definitions": [{"id": _id("validation", v.name), "name": v.name}
                                   for v in validations_for(spec, checkpoint, target)],
    }


def great_expectations_yml(spec: GateSpec) -> str:
    marts = sorted(spec.marts)
    lines = [
        "# Great Expectations 1.x file project for mmhealth's quality gate.",
        "# GENERATED from gate.yml by `mmhealth quality compile` - edit gate.yml, then recompile.",
        "# Runs copy this project into $MMHEALTH_LAKE/quality/gx/, so validation results and Data Docs",
        "# (uncommitted/) live with the data they describe, never in the repository.",
        "config_version: 4.0",
        "config_variables_file_path: uncommitted/config_variables.yml",
        "plugins_directory: plugins/",
        "stores:",
    ]
    for store, cls, base, extra in (
        ("expectations_store", "ExpectationsStore", "expectations/", None),
        ("validation_results_store", "ValidationResultsStore", "uncommitted/validations/", None),
        ("checkpoint_store", "CheckpointStore", "checkpoints/", "suppress_store_backend_id: true"),
        ("validation_definition_store", "ValidationDefinitionStore", "validation_definitions/", None),
    ):
        lines += [f"  {store}:", f"    class_name: {cls}", "    store_backend:",
                  "      class_name: TupleFilesystemStoreBackend"]
        if extra:
            lines.append(f"      {extra}")
        lines.append(f"      base_directory: {base}")
    lines += [
        "expectations_store_name: expectations_store",
        "validation_results_store_name: validation_results_store",
        "checkpoint_store_name: checkpoint_store",
        "data_docs_sites:",
        "  local_site:",
        "    class_name: SiteBuilder",
        "    show_how_to_buttons: false",
        "    store_backend:",
        "      class_name: TupleFilesystemStoreBackend",
        "      base_directory: uncommitted/data_docs/local_site/",
        "    site_index_builder:",
        "      class_name: DefaultSiteIndexBuilder",
        "fluent_datasources:",
        f"  {LOCAL_DATASOURCE}:",
        "    type: pandas",
        f"    id: {_id('datasource', LOCAL_DATASOURCE)}",
        "    assets:",
    ]
    for m in marts:
        lines += [f"      {m}:", "        type: dataframe", f"        id: {_id('asset', f'{LOCAL_DATASOURCE}.{m}')}",
                  "        batch_metadata: {}", "        batch_definitions:", f"          {BATCH_DEFINITION}:",
                  f"            id: {_id('batch', f'{LOCAL_DATASOURCE}.{m}.{BATCH_DEFINITION}')}",
                  "            partitioner:"]
    lines += [
        f"  {ATHENA_DATASOURCE}:",
        "    type: sql",
        f"    id: {_id('datasource', ATHENA_DATASOURCE)}",
        "    # awsathena+rest://@athena.<region>.amazonaws.com:443/<marts schema>?s3_staging_dir=...&work_group=...",
        f"    connection_string: ${{{ATHENA_URL_ENV}}}",
        "    assets:",
    ]
    for m in marts:
        lines += [f"      {m}:", "        type: table", f"        id: {_id('asset', f'{ATHENA_DATASOURCE}.{m}')}",
                  f"        table_name: {m}", "        batch_metadata: {}", "        batch_definitions:",
                  f"          {BATCH_DEFINITION}:",
                  f"            id: {_id('batch', f'{ATHENA_DATASOURCE}.{m}.{BATCH_DEFINITION}')}",
                  "            partitioner:"]
    lines += [
        "progress_bars:",
        "  globally: false",
        "  metric_calculations: false",
        "# No usage statistics leave a machine that holds health data.",
        "analytics_enabled: false",
        f"data_context_id: {_id('context', 'mmhealth')}",
    ]
    return "\n".join(lines) + "\n"


def project_files(spec: GateSpec) -> dict[str, str]:
    """Relative path -> content, for every file of the GE project that is generated from the spec."""
    files: dict[str, str] = {"great_expectations.yml": great_expectations_yml(spec)}

    def dump(obj: Any) -> str:
        return json.dumps(obj, indent=2, sort_keys=True) + "\n"

    files[f"expectations/{DEID_SUITE}.json"] = dump(deid_suite(spec))
    for mart in spec.marts.values():
        files[f"expectations/{mart.name}.json"] = dump(contract_suite(spec, mart))
        if mart.drift:
            files[f"expectations/{mart.name}__drift.json"] = dump(drift_suite(mart))
    for cp in spec.checkpoints:
        for target in ("local", "athena"):
            files[f"checkpoints/{checkpoint_name(cp, target)}.json"] = dump(checkpoint_json(spec, cp, target))
            for v in validations_for(spec, cp, target):
                files[f"validation_definitions/{v.name}.json"] = dump(validation_definition(v))
    return files


GENERATED_DIRS = ("expectations", "checkpoints", "validation_definitions")


def write_project(spec: GateSpec, root: Path) -> list[str]:
    """Write the generated files; remove generated-kind files no longer produced. Returns changed paths."""
    files = project_files(spec)
    changed = []
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != content:
            path.write_text(content)
            changed.append(rel)
    for d in GENERATED_DIRS:
        for path in (root / d).glob("*.json"):
            rel = f"{d}/{path.name}"
            if rel not in files:
                path.unlink()
                changed.append(rel)
    return changed


def stale_files(spec: GateSpec, root: Path) -> list[str]:
    """Paths whose checked-in content differs from what the spec compiles to (missing, changed or orphaned)."""
    files = project_files(spec)
    stale = [rel for rel, content in files.items()
             if not (root / rel).exists() or (root / rel).read_text() != content]
    for d in GENERATED_DIRS:
        stale += [f"{d}/{p.name}" for p in (root / d).glob("*.json") if f"{d}/{p.name}" not in files]
    return sorted(stale)
