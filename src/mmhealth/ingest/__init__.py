"""ingest stage: one sub-package per modality (`fhir/`, `genomics/`, `imaging/`), each with a `reader.py` that the
lake loads (`mmhealth.lake.modalities`); what every reader shares stays here: `records.py` (the contract with
the lake: what a reader is given and yields) and `duck.py` (DuckDB helpers)."""
