"""Generate the Great Expectations 1.x project under `expectations/gx/` from its three sources.

  gate.yml        hand-written invariants (ranges, small cells, integrity, de-identification), checkpoints
  the manifest    dbt's contracts and grain tests: columns, declared types, unique, not-null (mmhealth.quality.contract)
  baseline.yml    this deployment's profile bands (mmhealth.quality.baseline); absent -> invariants only

Pure functions build every suite, validation definition, checkpoint and `great_expectations.yml` as GE stores them;
`write_project` writes them. IDs are UUIDv5 of names, so compiling twice gives byte-identical files and a review
shows only real changes; `mmhealth quality compile --check` (run by `quality check` and the tests) finds stale files.

The project needs nothing from mmhealth at run time: every bound is a literal in the suites (no `$PARAMETER`), the
custom expectations are the plugin in `gx/plugins/gate_expectations/` that GE imports itself, and each mart is a
data asset that reads itself - a pandas `sql_query` asset on dbt's DuckDB warehouse at `${MMHEALTH_LAKE}` (GE's SQL
engine cannot drive DuckDB, GE issue 11579) or a table of the Athena datasource at `${MMHEALTH_ATHENA_URL}`. So
`gx.get_context(project_root_dir="expectations").checkpoints.get("pre_feature_store__local").run()` validates every
mart in one run, exactly what `mmhealth quality check` runs.

Names:
  suites                  `<mart>__invariants`, `<mart>__profile`, `deidentification`, `relationship__<name>`
  validation definitions  `<target>__<mart>__<invariants|profile|deidentification>`, `<target>__relationship__<name>`
  checkpoints             `<checkpoint>__<target>`, e.g. `pre_feature_store__local`
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmhealth.quality.baseline import Baseline
from mmhealth.quality.contract import MartContract
from mmhealth.quality.spec import TARGETS, GateSpec, Relationship

GE_VERSION = "1.24.1"
_NS = uuid.UUID("6f1f3c1e-9a4e-5b7c-8d2e-6d6d68656c74")
GX_DIR = "gx"
LOCAL_DATASOURCE = "local_marts"
ATHENA_DATASOURCE = "athena_marts"
ATHENA_URL_ENV = "MMHEALTH_ATHENA_URL"
LAKE_ENV = "MMHEALTH_LAKE"
BATCH_DEFINITION = "whole_table"
DEID_SUITE = "deidentification"
PLUGIN_MODULE = "gate_expectations"
GENERATED_DIRS = ("expectations", "checkpoints", "validation_definitions")
# pandas dtypes a DuckDB column of each declared type is read into (read_sql returns untyped Python values, and a
# column whose values are all null would otherwise lose its type).
_PANDAS_DTYPE = {"boolean": "boolean", "numeric_int": "Int64", "numeric_float": "Float64", "text": "string"}


@dataclass(frozen=True)
class Sources:
    spec: GateSpec
    contracts: dict[str, MartContract]
    baseline: Baseline | None
    small_cell_threshold: int


@dataclass(frozen=True)
class Validation:
    name: str
    target: str
    mart: str  # the mart a failure is reported against (for a relationship: its `from` mart)
    kind: str  # invariants | profile | deidentification | integrity
    suite: str
    asset: str


def _id(kind: str, name: str) -> str:
    return str(uuid.uuid5(_NS, f"{kind}:{name}"))


def _exp(suite: str, type_: str, check: str, meta: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    meta = {"check": check, **(meta or {})}
    ident = f"{suite}:{type_}:{json.dumps(kwargs, sort_keys=True)}"
    return {"id": _id("expectation", ident), "kwargs": kwargs, "meta": meta, "severity": "critical", "type": type_}


def _suite(name: str, expectations: list[dict[str, Any]], notes: str) -> dict[str, Any]:
    return {"expectations": expectations, "id": _id("suite", name),
            "meta": {"great_expectations_version": GE_VERSION}, "name": name, "notes": notes or None}


def invariants_suite(src: Sources, mart: str) -> dict[str, Any]:
    c = src.contracts[mart]
    rules = src.spec.rules(mart)
    s = f"{mart}__invariants"
    dbt = {"source": "dbt contract"}
    ex = []
    if rules.min_rows:
        ex.append(_exp(s, "expect_table_row_count_to_be_between", "rows", min_value=rules.min_rows, max_value=None))
    ex.append(_exp(s, "expect_table_columns_to_match_set", "schema", dbt, column_set=sorted(c.columns),
                   exact_match=True))
    ex.append(_exp(s, "expect_table_columns_to_have_declared_types", "schema", dbt, column_types=dict(c.columns)))
    for col in c.unique:
        ex.append(_exp(s, "expect_column_values_to_be_unique", "key", {"source": "dbt test unique"}, column=col))
    for cols in c.unique_combinations:
        ex.append(_exp(s, "expect_compound_columns_to_be_unique", "key",
                       {"source": "dbt test mmh_unique_combination"}, column_list=list(cols)))
    for col in c.not_null:
        ex.append(_exp(s, "expect_column_values_to_not_be_null", "key" if col in c.key else "not_null",
                       {"source": "dbt test not_null"}, column=col))
    for r in rules.ranges:
        ex.append(_exp(s, "expect_column_values_to_be_between", "range", column=r.column, min_value=r.min,
                       max_value=r.max))
    for col in rules.small_cells:
        # Counts from 1 to threshold - 1 must have been nulled by the mart (0 may stay: nobody to re-identify).
        ex.append(_exp(s, "expect_column_values_to_not_be_in_set", "small_cell", column=col,
                       value_set=list(range(1, src.small_cell_threshold))))
    return _suite(s, ex, f"Invariants of {mart}: any correct build of any data satisfies them. {c.description}")


def profile_suite(src: Sources, mart: str) -> dict[str, Any]:
    assert src.baseline is not None
    p = src.baseline.marts[mart]
    s = f"{mart}__profile"
    since = {"baseline": src.baseline.created}
    ex = [_exp(s, "expect_table_row_count_to_be_between", "profile:rows", {**since, "value": int(p.rows.value)},
               min_value=int(p.rows.min), max_value=int(p.rows.max))]
    types = {"non_null_share": ("expect_column_proportion_of_non_null_values_to_be_between", "profile:completeness"),
             "true_share": ("expect_column_true_share_to_be_between", "profile:prevalence"),
             "mean": ("expect_column_mean_to_be_between", "profile:distribution"),
             "stdev": ("expect_column_stdev_to_be_between", "profile:distribution")}
    for col, stats in p.columns.items():
        if col not in src.contracts[mart].columns:
            continue  # dropped from the contract since the baseline: the schema invariant reports it
        for stat, band in stats.items():
            type_, check = types[stat]
            ex.append(_exp(s, type_, check, {**since, "statistic": stat, "value": band.value}, column=col,
                           min_value=band.min, max_value=band.max))
    return _suite(s, ex, f"Profile of {mart} against the baseline of {src.baseline.created} "
                         f"(lake {src.baseline.lake}, {int(p.rows.value)} rows).")


def deid_suite(src: Sources) -> dict[str, Any]:
    s = DEID_SUITE
    d = src.spec.deid
    ex = [
        _exp(s, "expect_table_columns_to_not_match_identifier_names", "deidentification",
             patterns=list(d.forbidden_column_names)),
        _exp(s, "expect_table_values_to_not_look_like_identifiers", "deidentification",
             shapes=dict(d.identifier_value_shapes)),
    ]
    return _suite(s, ex, "No direct identifier (HIPAA Safe Harbor kinds) by column name or by value shape.")


def relationship_suite(r: Relationship) -> dict[str, Any]:
    s = f"relationship__{r.name}"
    ex = [_exp(s, "expect_table_row_count_to_equal", "integrity",
               {"relationship": f"{r.from_mart}.{r.from_column} -> {r.to_mart}.{r.to_column}"}, value=0)]
    return _suite(s, ex, f"{r.description} The asset holds the {r.from_mart} rows whose {r.from_column} has no match "
                         f"in {r.to_mart}.{r.to_column}: there must be none.")


def validations_for(src: Sources, checkpoint: str, target: str) -> list[Validation]:
    out = []
    marts = src.spec.checkpoint(checkpoint).marts
    for mart in marts:
        out.append(Validation(f"{target}__{mart}__invariants", target, mart, "invariants", f"{mart}__invariants", mart))
        if src.baseline is not None and src.baseline.covers(mart):
            out.append(Validation(f"{target}__{mart}__profile", target, mart, "profile", f"{mart}__profile", mart))
        if mart in src.spec.deid.marts:
            out.append(Validation(f"{target}__{mart}__deidentification", target, mart, "deidentification",
                                  DEID_SUITE, mart))
    for r in src.spec.relationships_of(marts):
        out.append(Validation(f"{target}__relationship__{r.name}", target, r.from_mart, "integrity",
                              f"relationship__{r.name}", _relationship_asset(r)))
    return out


def _relationship_asset(r: Relationship) -> str:
    return f"relationship__{r.name}"


def checkpoint_name(checkpoint: str, target: str) -> str:
    return f"{checkpoint}__{target}"


def _datasource(target: str) -> str:
    return LOCAL_DATASOURCE if target == "local" else ATHENA_DATASOURCE


def validation_definition(v: Validation) -> dict[str, Any]:
    ds = _datasource(v.target)
    return {
        "data": {
            "asset": {"id": _id("asset", f"{ds}.{v.asset}"), "name": v.asset},
            "batch_definition": {"id": _id("batch", f"{ds}.{v.asset}.{BATCH_DEFINITION}"), "name": BATCH_DEFINITION},
            "datasource": {"id": _id("datasource", ds), "name": ds},
        },
        "id": _id("validation", v.name),
        "name": v.name,
        "suite": {"id": _id("suite", v.suite), "name": v.suite},
    }


def checkpoint_json(src: Sources, checkpoint: str, target: str) -> dict[str, Any]:
    name = checkpoint_name(checkpoint, target)
    return {
        "actions": [{"name": "update_data_docs", "site_names": [], "type": "update_data_docs"}],
        "id": _id("checkpoint", name),
        "name": name,
        # SUMMARY with a short sample: enough to debug a range failure, little enough never to dump a column.
        "result_format": {"result_format": "SUMMARY", "partial_unexpected_count": 5},
        "validation_definitions": [{"id": _id("validation", v.name), "name": v.name}
                                   for v in validations_for(src, checkpoint, target)],
    }


def _read_kwargs(c: MartContract) -> tuple[dict[str, str], list[str]]:
    """pandas dtypes and date columns for reading a mart with read_sql: from the contract's declared types."""
    dtypes, dates = {}, []
    for col, t in c.columns.items():
        kind = c.kind(col)
        if kind == "date":
            dates.append(col)
        elif kind == "numeric":
            integer = "int" in t.lower()
            dtypes[col] = _PANDAS_DTYPE["numeric_int" if integer else "numeric_float"]
        else:
            dtypes[col] = _PANDAS_DTYPE[kind]
    return dtypes, dates


def _q(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid YAML double-quoted scalar


def _asset_lines(ds: str, name: str, body: list[str]) -> list[str]:
    return ([f"      {name}:"] + [f"        {line}" for line in body] +
            [f"        id: {_id('asset', f'{ds}.{name}')}", "        batch_metadata: {}",
             "        batch_definitions:", f"          {BATCH_DEFINITION}:",
             f"            id: {_id('batch', f'{ds}.{name}.{BATCH_DEFINITION}')}", "            partitioner:"])


def _orphans_sql(r: Relationship, schema: dict[str, str]) -> str:
    def table(m: str) -> str:
        return f"{schema[m]}.{m}" if schema.get(m) else m

    return (f"select f.{r.from_column} from {table(r.from_mart)} as f left join {table(r.to_mart)} as t "
            f"on f.{r.from_column} = t.{r.to_column} where f.{r.from_column} is not null and t.{r.to_column} is null")


def great_expectations_yml(src: Sources) -> str:
    marts = src.spec.marts
    schemas = {m: src.contracts[m].schema for m in marts}
    con = f"duckdb:///${{{LAKE_ENV}}}/warehouse.duckdb?access_mode=read_only"
    lines = [
        "# Great Expectations 1.x project of mmhealth's quality gate - plain GE runs it:",
        "#   gx.get_context(project_root_dir=\"expectations\").checkpoints.get(\"pre_feature_store__local\").run()",
        "# with MMHEALTH_LAKE set to the lake whose dbt warehouse to validate (Athena: MMHEALTH_ATHENA_URL).",
        "# GENERATED by `mmhealth quality compile` from ../gate.yml, dbt's manifest and ../baseline.yml - edit those.",
        "config_version: 4.0",
        "config_variables_file_path: uncommitted/config_variables.yml",
        "# GE puts this folder on sys.path; the expectations store below is built from the gate_expectations",
        "# package in it, and that import registers the gate's own expectations before any suite is read.",
        "plugins_directory: plugins/",
        "stores:",
    ]
    for store, cls, base, extra in (
        ("expectations_store", "ExpectationsStore", "expectations/", f"module_name: {PLUGIN_MODULE}"),
        ("validation_results_store", "ValidationResultsStore", "uncommitted/validations/", None),
        ("checkpoint_store", "CheckpointStore", "checkpoints/", None),
        ("validation_definition_store", "ValidationDefinitionStore", "validation_definitions/", None),
    ):
        lines += [f"  {store}:", f"    class_name: {cls}"]
        if extra:
            lines.append(f"    {extra}")
        lines += ["    store_backend:", "      class_name: TupleFilesystemStoreBackend"]
        if store != "validation_results_store":
            # No `.ge_store_backend_id` files among the checked-in suites when a GE user runs the project.
            lines.append("      suppress_store_backend_id: true")
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
        dtypes, dates = _read_kwargs(src.contracts[m])
        body = ["type: sql_query", f"sql: {_q(f'select * from {schemas[m]}.{m}')}", f"con: {_q(con)}",
                "dtype_backend: numpy_nullable", f"dtype: {json.dumps(dtypes)}", f"parse_dates: {json.dumps(dates)}"]
        lines += _asset_lines(LOCAL_DATASOURCE, m, body)
    for r in src.spec.relationships:
        body = ["type: sql_query", f"sql: {_q(_orphans_sql(r, schemas))}", f"con: {_q(con)}"]
        lines += _asset_lines(LOCAL_DATASOURCE, _relationship_asset(r), body)
    lines += [
        f"  {ATHENA_DATASOURCE}:",
        "    type: sql",
        f"    id: {_id('datasource', ATHENA_DATASOURCE)}",
        "    # awsathena+rest://@athena.<region>.amazonaws.com:443/<marts schema>?s3_staging_dir=...&work_group=...",
        f"    connection_string: ${{{ATHENA_URL_ENV}}}",
        "    assets:",
    ]
    for m in marts:
        lines += _asset_lines(ATHENA_DATASOURCE, m, ["type: table", f"table_name: {m}"])
    for r in src.spec.relationships:
        body = ["type: query", f"query: {_q(_orphans_sql(r, {}))}"]
        lines += _asset_lines(ATHENA_DATASOURCE, _relationship_asset(r), body)
    lines += [
        "progress_bars:",
        "  globally: false",
        "  metric_calculations: false",
        "# No usage statistics leave a machine that holds health data.",
        "analytics_enabled: false",
        f"data_context_id: {_id('context', 'mmhealth')}",
    ]
    return "\n".join(lines) + "\n"


def project_files(src: Sources) -> dict[str, str]:
    """Path relative to expectations/gx/ -> content, for every generated file of the GE project."""
    def dump(obj: Any) -> str:
        return json.dumps(obj, indent=2, sort_keys=True) + "\n"

    files: dict[str, str] = {"great_expectations.yml": great_expectations_yml(src)}
    marts = src.spec.marts
    if src.spec.deid.marts:
        files[f"expectations/{DEID_SUITE}.json"] = dump(deid_suite(src))
    for m in marts:
        files[f"expectations/{m}__invariants.json"] = dump(invariants_suite(src, m))
        if src.baseline is not None and src.baseline.covers(m):
            files[f"expectations/{m}__profile.json"] = dump(profile_suite(src, m))
    for r in src.spec.relationships:
        files[f"expectations/relationship__{r.name}.json"] = dump(relationship_suite(r))
    for cp in src.spec.checkpoints:
        for target in TARGETS:
            files[f"checkpoints/{checkpoint_name(cp, target)}.json"] = dump(checkpoint_json(src, cp, target))
            for v in validations_for(src, cp, target):
                files[f"validation_definitions/{v.name}.json"] = dump(validation_definition(v))
    return files


def write_project(src: Sources, root: Path) -> list[str]:
    """Write the generated files under root/gx/; remove generated-kind files no longer produced. Returns changes."""
    gx = root / GX_DIR
    files = project_files(src)
    changed = []
    for rel, content in files.items():
        path = gx / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != content:
            path.write_text(content)
            changed.append(rel)
    for d in GENERATED_DIRS:
        for path in (gx / d).glob("*.json"):
            if f"{d}/{path.name}" not in files:
                path.unlink()
                changed.append(f"{d}/{path.name}")
    return changed


def stale_files(src: Sources, root: Path) -> list[str]:
    """Files under root/gx/ whose content differs from what the sources compile to (missing, changed, orphaned)."""
    gx = root / GX_DIR
    files = project_files(src)
    stale = [rel for rel, content in files.items() if not (gx / rel).exists() or (gx / rel).read_text() != content]
    for d in GENERATED_DIRS:
        stale += [f"{d}/{p.name}" for p in (gx / d).glob("*.json") if f"{d}/{p.name}" not in files]
    return sorted(stale)
