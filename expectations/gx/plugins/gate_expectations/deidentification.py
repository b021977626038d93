"""Great Expectations expectations for de-identification, registered on import.

GE's built-in column expectations only look at columns a suite names, so a column that leaks into a feature table
under an innocent name would go unseen. These two look at *every* column of the batch: one by name, one by the
shape of the values of every text column. Results carry column names and counts only, never the offending values,
so Data Docs and the JSON result cannot themselves become the leak.

Importing this module registers `expect_table_columns_to_not_match_identifier_names` and
`expect_table_values_to_not_look_like_identifiers` (and the metric the latter needs) with GE's registry; the
package's __init__ imports it, and GE imports the package while it builds the data context (great_expectations.yml).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Dict, List, Optional, Tuple

import pandas as pd
from great_expectations.compatibility.sqlalchemy import sqlalchemy as sa
from great_expectations.core.metric_domain_types import MetricDomainTypes
from great_expectations.execution_engine import PandasExecutionEngine, SqlAlchemyExecutionEngine
from great_expectations.expectations.expectation import BatchExpectation
from great_expectations.expectations.metrics.metric_provider import metric_value
from great_expectations.expectations.metrics.table_metric_provider import TableMetricProvider
from great_expectations.validator.metric_configuration import MetricConfiguration

from gate_expectations.render import sentence

_TEXT_SQL_TYPES = ("CHAR", "VARCHAR", "STRING", "TEXT")


def name_hits(columns: List[str], patterns: List[str]) -> Dict[str, str]:
    """Column name -> the first pattern it matches (case-insensitive search)."""
    hits: Dict[str, str] = {}
    for col in columns:
        for pattern in patterns:
            if re.search(pattern, str(col), flags=re.IGNORECASE):
                hits[str(col)] = pattern
                break
    return hits


def value_hits(df: pd.DataFrame, shapes: Dict[str, str]) -> Dict[str, Dict[str, int]]:
    """For every text column, how many values fully match each identifier shape (only non-zero counts)."""
    out: Dict[str, Dict[str, int]] = {}
    for col in df.columns:
        series = df[col]
        if not (pd.api.types.is_string_dtype(series) or pd.api.types.is_object_dtype(series)):
            continue
        values = series.dropna().astype(str).str.strip()
        if values.empty:
            continue
        counts = {
            kind: int(values.str.fullmatch(pattern, case=False).sum()) for kind, pattern in shapes.items()
        }
        counts = {k: v for k, v in counts.items() if v}
        if counts:
            out[str(col)] = counts
    return out


class TableIdentifierShapedValues(TableMetricProvider):
    """Per text column, the number of values shaped like each direct-identifier pattern."""

    metric_name = "table.identifier_shaped_values"
    value_keys = ("shapes",)

    @metric_value(engine=PandasExecutionEngine)
    def _pandas(cls, execution_engine, metric_domain_kwargs, metric_value_kwargs, metrics, runtime_configuration):
        df, _, _ = execution_engine.get_compute_domain(metric_domain_kwargs, domain_type=MetricDomainTypes.TABLE)
        return value_hits(df, metric_value_kwargs["shapes"])

    @classmethod
    def _get_evaluation_dependencies(cls, metric, configuration=None, execution_engine=None,
                                     runtime_configuration=None):
        # The SQL implementation needs the column types to know which columns hold text.
        deps = super()._get_evaluation_dependencies(
            metric=metric, configuration=configuration, execution_engine=execution_engine,
            runtime_configuration=runtime_configuration,
        )
        table_domain = {k: v for k, v in metric.metric_domain_kwargs.items() if k != "column"}
        deps["table.column_types"] = MetricConfiguration("table.column_types", table_domain, {"include_nested": False})
        return deps

    @metric_value(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, execution_engine, metric_domain_kwargs, metric_value_kwargs, metrics, runtime_configuration):
        # Pushed down as count_if(regexp_like(...)) so Athena scans the table once, whatever its size.
        selectable, _, _ = execution_engine.get_compute_domain(
            metric_domain_kwargs, domain_type=MetricDomainTypes.TABLE
        )
        columns = metrics["table.column_types"]
        statement, labels = identifier_shape_query(selectable, columns, metric_value_kwargs["shapes"])
        if statement is None:
            return {}
        with execution_engine.get_connection() as con:
            row = con.execute(statement).fetchone()
        out: Dict[str, Dict[str, int]] = {}
        for (col, kind), count in zip(labels, row, strict=True):
            if count:
                out.setdefault(col, {})[kind] = int(count)
        return out


def identifier_shape_query(selectable, columns: List[dict], shapes: Dict[str, str]):
    """One aggregate SELECT counting, per text column and shape, the values that fully match (Trino/Athena SQL)."""
    exprs, labels = [], []
    for column in columns:
        if not any(t in str(column["type"]).upper() for t in _TEXT_SQL_TYPES):
            continue
        for kind, pattern in shapes.items():
            anchored = f"(?i)^(?:{pattern})$"
            match = sa.func.regexp_like(sa.func.trim(sa.column(column["name"])), anchored)
            exprs.append(sa.func.sum(sa.case((match, 1), else_=0)))
            labels.append((column["name"], kind))
    if not exprs:
        return None, []
    return sa.select(*exprs).select_from(selectable), labels


class ExpectTableColumnsToNotMatchIdentifierNames(BatchExpectation):
    """Expect no column whose name looks like a direct identifier (name, address, phone, birth date, FHIR id...)."""

    patterns: List[str]
    metric_dependencies: ClassVar[Tuple[str, ...]] = ("table.columns",)
    success_keys: ClassVar[Tuple[str, ...]] = ("patterns",)
    args_keys: ClassVar[Tuple[str, ...]] = ("patterns",)
    library_metadata: ClassVar[Dict[str, Any]] = {"tags": ["de-identification"], "contributors": ["mmhealth"]}
    _prescriptive_renderer = sentence(
        "No column may be named like a direct identifier ($n name patterns: names, addresses, phone, e-mail, "
        "record numbers, birth and death dates, raw FHIR and DICOM ids).",
        lambda kw: {"n": len(kw.get("patterns") or [])},
    )

    def _validate(self, metrics: Dict, runtime_configuration: Optional[dict] = None, execution_engine=None):
        hits = name_hits(list(metrics["table.columns"]), self.configuration.kwargs["patterns"])
        return {"success": not hits, "result": {"observed_value": sorted(hits), "details": {"matched": hits}}}


class ExpectTableValuesToNotLookLikeIdentifiers(BatchExpectation):
    """Expect no text column to hold values shaped like a direct identifier (phone, email, UUID, exact date...).

    Counts only: the values themselves never enter the result."""

    shapes: Dict[str, str]
    metric_dependencies: ClassVar[Tuple[str, ...]] = ("table.identifier_shaped_values",)
    success_keys: ClassVar[Tuple[str, ...]] = ("shapes",)
    args_keys: ClassVar[Tuple[str, ...]] = ("shapes",)
    library_metadata: ClassVar[Dict[str, Any]] = {"tags": ["de-identification"], "contributors": ["mmhealth"]}
    _prescriptive_renderer = sentence(
        "No text value may look like a direct identifier: $kinds.",
        lambda kw: {"kinds": ", ".join(sorted(kw.get("shapes") or {}))},
    )

    def _validate(self, metrics: Dict, runtime_configuration: Optional[dict] = None, execution_engine=None):
        hits = metrics["table.identifier_shaped_values"]
        observed = sorted(f"{col}: {kind}" for col, kinds in hits.items() for kind in kinds)
        return {"success": not hits, "result": {"observed_value": observed, "details": {"counts": hits}}}
