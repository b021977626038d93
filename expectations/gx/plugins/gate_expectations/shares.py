"""The share of true values of a boolean column (label prevalence, modality flags), registered on import.

Label prevalence and modality flags are booleans. GE's `expect_column_mean_to_be_between` computes
`avg(1.0 * column)` in SQL, which Athena (Trino) rejects for a boolean; this metric uses
`avg(CASE WHEN column THEN 1.0 ELSE 0.0 END)` there and the mean of the non-null values in pandas.
"""

from __future__ import annotations

from typing import Any, ClassVar, Dict, Optional, Tuple, Union

from great_expectations.compatibility.sqlalchemy import sqlalchemy as sa
from great_expectations.core.suite_parameters import SuiteParameterDict
from great_expectations.execution_engine import PandasExecutionEngine, SqlAlchemyExecutionEngine
from great_expectations.expectations.expectation import ColumnAggregateExpectation
from great_expectations.expectations.metrics.column_aggregate_metric_provider import (
    ColumnAggregateMetricProvider,
    column_aggregate_partial,
    column_aggregate_value,
)

from gate_expectations.render import bound, sentence


class ColumnTrueShare(ColumnAggregateMetricProvider):
    metric_name = "column.true_share"

    @column_aggregate_value(engine=PandasExecutionEngine)
    def _pandas(cls, column, **kwargs):
        values = column.dropna()
        return float(values.astype(bool).mean()) if len(values) else None

    @column_aggregate_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column, **kwargs):
        return sa.func.avg(sa.case((column, 1.0), else_=0.0))


class ExpectColumnTrueShareToBeBetween(ColumnAggregateExpectation):
    """Expect the share of true values among the non-null values of a boolean column to be in a band."""

    min_value: Optional[Union[float, SuiteParameterDict]] = None
    max_value: Optional[Union[float, SuiteParameterDict]] = None
    strict_min: bool = False
    strict_max: bool = False
    metric_dependencies: ClassVar[Tuple[str, ...]] = ("column.true_share",)
    success_keys: ClassVar[Tuple[str, ...]] = ("min_value", "strict_min", "max_value", "strict_max")
    args_keys: ClassVar[Tuple[str, ...]] = ("column", "min_value", "max_value", "strict_min", "strict_max")
    library_metadata: ClassVar[Dict[str, Any]] = {"tags": ["prevalence"], "contributors": ["mmhealth"]}
    _prescriptive_renderer = sentence(
        "$column: share of true values must be between $min_value and $max_value.",
        lambda kw: {"column": kw.get("column"), "min_value": bound(kw.get("min_value")),
                    "max_value": bound(kw.get("max_value"))},
    )

    def _validate(self, metrics: Dict, runtime_configuration: Optional[dict] = None, execution_engine=None):
        return self._validate_metric_value_between(
            metric_name="column.true_share", metrics=metrics, runtime_configuration=runtime_configuration,
            execution_engine=execution_engine,
        )
