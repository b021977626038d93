"""QuickSight column types for the SQL types the dbt models declare (the manifest's `data_type`, read through
mmhealth.manifest). Marts have enforced contracts, so every column states its type and a data set always matches the
table dbt built."""

from __future__ import annotations

import re

# QuickSight InputColumn types for the SQL types DuckDB and Athena (Trino) models declare.
_TYPE_RULES: tuple[tuple[str, str], ...] = (
    (r"^(varchar|char|string|text|uuid|enum)", "STRING"),
    (r"^(tinyint|smallint|int|integer|bigint|hugeint|ubigint|uinteger|usmallint|utinyint|int\d)\b", "INTEGER"),
    (r"^(double|float|real|decimal|numeric)", "DECIMAL"),
    (r"^(date|timestamp|datetime|time)", "DATETIME"),
    (r"^(boolean|bool)\b", "BOOLEAN"),
    (r"^(json)\b", "JSON"),
)
_COMPLEX = re.compile(r"^(array|map|struct|row)\b|\[\]$")


def quicksight_type(data_type: str | None) -> str | None:
    """The QuickSight InputColumn type for a dbt data_type, or None for nested types QuickSight cannot read
    (arrays, maps, structs): those columns are left out of the data set."""
    t = (data_type or "").strip().lower()
    if not t:
        raise ValueError("no data_type")
    if _COMPLEX.search(t):
        return None
    for pattern, qs_type in _TYPE_RULES:
        if re.match(pattern, t):
            return qs_type
    raise ValueError(f"unknown data_type {data_type!r}")
