"""The mart's columns have the types its dbt contract declares, registered on import.

The suites carry the contract's types exactly as the dbt YAML declares them (`varchar`, `bigint`, `double`,
`date`...; generated from dbt's manifest, never written by hand). GE's `expect_column_values_to_be_in_type_list`
compares pandas dtype names and misses pandas 3's string dtype and the nullable dtypes DuckDB data arrives in, so
this expectation maps both sides - the declared SQL type and the engine's type (a pandas dtype, or a SQL type from
GE's `table.column_types` metric on Athena) - to one logical type and reports every column where they differ.
"""

from __future__ import annotations

from typing import Any, ClassVar, Dict, Optional, Tuple

import pandas as pd
from great_expectations.expectations.expectation import BatchExpectation

from gate_expectations.render import sentence

# Logical type of a declared column -> logical types of the engine that satisfy it. pandas has no DATE type: a date
# arrives as a timestamp.
ACCEPTS: dict[str, set[str]] = {
    "string": {"string"},
    "integer": {"integer"},
    "float": {"float"},
    "boolean": {"boolean"},
    "date": {"date", "timestamp"},
    "timestamp": {"timestamp"},
}


def logical_type(engine_type: Any) -> str:
    """pandas dtype or SQL type -> one of string, integer, float, boolean, date, timestamp, other."""
    if isinstance(engine_type, str) or not _is_pandas_dtype(engine_type):
        name = str(engine_type).upper()
        if "BOOL" in name:
            return "boolean"
        if "INT" in name:
            return "integer"
        if any(t in name for t in ("DOUBLE", "FLOAT", "REAL", "DECIMAL", "NUMERIC")):
            return "float"
        if "TIMESTAMP" in name or "DATETIME" in name:
            return "timestamp"
        if name.startswith("DATE"):
            return "date"
        if any(t in name for t in ("CHAR", "STRING", "TEXT")):
            return "string"
        return "other"
    api = pd.api.types
    if api.is_bool_dtype(engine_type):
        return "boolean"
    if api.is_integer_dtype(engine_type):
        return "integer"
    if api.is_float_dtype(engine_type):
        return "float"
    if api.is_datetime64_any_dtype(engine_type):
        return "timestamp"
    if api.is_string_dtype(engine_type) or api.is_object_dtype(engine_type):
        return "string"
    return "other"


def _is_pandas_dtype(t: Any) -> bool:
    import numpy as np

    return isinstance(t, (np.dtype, pd.api.extensions.ExtensionDtype))


def type_mismatches(column_types: list[dict], declared: dict[str, str]) -> dict[str, str]:
    """Column -> 'declared X, found Y' for every declared column whose engine type does not satisfy it."""
    found = {str(c["name"]): logical_type(c["type"]) for c in column_types}
    out = {}
    for col, sql_type in declared.items():
        want = logical_type(sql_type)
        if col in found and found[col] not in ACCEPTS.get(want, {want}):
            out[col] = f"declared {sql_type}, found {found[col]}"
    return out


class ExpectTableColumnsToHaveDeclaredTypes(BatchExpectation):
    """Expect each column to have the type its contract declares (absent columns are another expectation's job)."""

    column_types: Dict[str, str]
    metric_dependencies: ClassVar[Tuple[str, ...]] = ("table.column_types",)
    success_keys: ClassVar[Tuple[str, ...]] = ("column_types",)
    args_keys: ClassVar[Tuple[str, ...]] = ("column_types",)
    library_metadata: ClassVar[Dict[str, Any]] = {"tags": ["schema"], "contributors": ["mmhealth"]}
    _prescriptive_renderer = sentence(
        "Columns must have the types of the dbt contract: $types.",
        lambda kw: {"types": ", ".join(f"{c} {t}" for c, t in (kw.get("column_types") or {}).items())},
    )

    def _validate(self, metrics: Dict, runtime_configuration: Optional[dict] = None, execution_engine=None):
        bad = type_mismatches(metrics["table.column_types"], self.configuration.kwargs["column_types"])
        observed = sorted(f"{c}: {why}" for c, why in bad.items())
        return {"success": not bad, "result": {"observed_value": observed, "details": {"mismatches": bad}}}
