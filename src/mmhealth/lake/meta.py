"""`lake_meta` tables: the quarantine, the skipped input, the ingest log and the warnings. Their schemas are
fixed (dbt and dashboards read them)."""

from __future__ import annotations

from mmhealth.ingest.records import WARNING_COLUMNS, WARNINGS_TABLE

QUARANTINE = "lake_meta.quarantine"
INGEST_LOG = "lake_meta.ingest_log"
SKIPPED = "lake_meta.skipped"

# column -> DuckDB type; order is the table's column order. `lake_source` is the source file (as everywhere).
QUARANTINE_COLUMNS = {
    "run_id": "VARCHAR",
    "lake_source": "VARCHAR",
    "position": "VARCHAR",
    "modality": "VARCHAR",
    "reason": "VARCHAR",
    "raw_excerpt": "VARCHAR",
    "quarantined_at": "TIMESTAMP WITH TIME ZONE",
}
# Input deliberately not loaded (a DICOMDIR, a duplicate DICOM instance, a README, a NIfTI volume, the bulk
# export's log): one row per `Skipped` record, so every file that loads nothing still says where and why.
SKIPPED_COLUMNS = {
    "run_id": "VARCHAR",
    "lake_source": "VARCHAR",
    "position": "VARCHAR",
    "modality": "VARCHAR",
    "reason": "VARCHAR",
    "record_count": "BIGINT",
    "skipped_at": "TIMESTAMP WITH TIME ZONE",
}
INGEST_LOG_COLUMNS = {
    "run_id": "VARCHAR",
    "lake_source": "VARCHAR",
    "modality": "VARCHAR",
    "checksum": "VARCHAR",
    "size_bytes": "BIGINT",
    "records_read": "BIGINT",
    "records_loaded": "BIGINT",
    "records_quarantined": "BIGINT",
    "records_skipped": "BIGINT",
    "duration_s": "DOUBLE",
    "ingested_at": "TIMESTAMP WITH TIME ZONE",
}
# Written by readers (as TableBatch rows, see ingest/records.py); listed here so its view exists before any warning.
WARNINGS = ".".join(WARNINGS_TABLE)
META_COLUMNS = {QUARANTINE: QUARANTINE_COLUMNS, SKIPPED: SKIPPED_COLUMNS, INGEST_LOG: INGEST_LOG_COLUMNS,
                WARNINGS: WARNING_COLUMNS}

# Classification of the lake's own tables (phi | internal | public), as dbt YAML classifies the marts; governance
# (`mmhealth govern`) tags and guards them from it. Per table: "*" for every column, then exceptions. Quarantine
# rows hold raw excerpts of rejected input (names, birth dates, identifiers) and the source file names, which
# can carry patient names (Synthea names its files after the patient), so the whole table is phi; the ingest
# log is bookkeeping apart from those file names. A table or column not listed here counts as phi.
META_SENSITIVITY = {
    QUARANTINE: {"*": "phi"},
    INGEST_LOG: {"*": "internal", "lake_source": "phi"},
}


def meta_sensitivity(table: str, column: str) -> str:
    levels = META_SENSITIVITY.get(table, {})
    return levels.get(column, levels.get("*", "phi"))


def arrow_schema(columns: dict[str, str]):
    import pyarrow as pa

    types = {
        "VARCHAR": pa.string(),
        "BIGINT": pa.int64(),
        "DOUBLE": pa.float64(),
        "TIMESTAMP WITH TIME ZONE": pa.timestamp("us", tz="UTC"),
    }
    return pa.schema([(name, types[t]) for name, t in columns.items()])
