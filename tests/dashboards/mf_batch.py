"""Run several MetricFlow saved queries in one process and print their rows as JSON.

The `mf` CLI sets up dbt (a `dbt debug`) on every call; the tests need a handful of saved queries, so this does
the same setup once, through the CLI's own configuration class, and exits (which releases the DuckDB lock).
Usage: python mf_batch.py PROJECT_DIR SAVED_QUERY...
"""

from __future__ import annotations

import datetime
import json
import os
import sys
from pathlib import Path


def _cell(value):
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value if value is None or isinstance(value, (int, float, str, bool)) else str(value)


def main(project: str, names: list[str]) -> None:
    from dbt_metricflow.cli.cli_configuration import CLIConfiguration
    from metricflow.engine.metricflow_engine import MetricFlowQueryRequest

    cfg = CLIConfiguration()
    cfg.setup(
        dbt_profiles_path=Path(os.environ["DBT_PROFILES_DIR"]),
        dbt_project_path=Path(project),
        configure_file_logging=False,
    )
    out = {}
    for name in names:
        table = cfg.mf.query(MetricFlowQueryRequest.create(saved_query_name=name)).result_df
        out[name] = [dict(zip(table.column_names, map(_cell, row))) for row in table.rows]
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
