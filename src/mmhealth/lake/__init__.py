"""The lake: where `mmhealth ingest` puts every modality, and the mechanics all modalities share.

Layout (local folder LAKE, or the same keys under s3://bucket/prefix)::

    LAKE/<database>/<table>/lake_run=<run-id>/part-<run-id>-<n>.parquet   zstd Parquet, one folder per run
    LAKE/_lake/manifest.json     the committed state: which parts make each table, which source files
                                 (with checksums) are in the lake. Replacing this one file commits a run.
    LAKE/_lake/staging/<run-id>/ parts of a run that has not committed yet (deleted on commit or next run)
    LAKE/_lake/lock              one writer per lake: flock'ed by the running ingest (see `mmhealth.lake.lock`)
    LAKE/lake.duckdb             one schema per database (healthlake, omics, imaging, lake_meta) with one view
                                 per table over exactly the committed parts (rebuilt once per run)

Databases: `healthlake` (FHIR, HealthLake's Athena view shape), `omics` (variants, annotations,
reference_contigs), `imaging` (owned by the imaging reader), `lake_meta` (quarantine, skipped, ingest_log).
Every table has a `lake_source` column (relative path of the source file) and, like a Hive partition,
`lake_run`: the run that read the row's file. When a changed file's rows leave a part they shared with other
files, the copy of the part without them stays in the partition of the run it came from.

How a modality plugs in
-----------------------
A modality is a class implementing `mmhealth.ingest.records.ModalityReader` (`name`, `discover(root)`,
`read(files, ctx)`), listed in `mmhealth.lake.modalities.READERS` under its `--modality` name
(`fhir`, `genomics`, `imaging`). For each modality asked for, the ingest command:

1. calls `discover(SOURCE)`, checksums each file and compares with `lake_meta.ingest_log`: unchanged files
   are not read (incremental); `ctx.unchanged` lists them for readers that need context. A reader with
   `reports_checksums = True` gets new files without a checksum (`SourceFile.checksum` None) and hashes them on
   its own read, reporting each in `FileDone.checksum` (imaging: 23 GB of DICOM at 100,000 patients is then read
   twice, not three times);
2. calls `read(changed_files, ctx)` and consumes what it yields (all dataclasses in `ingest/records.py`):
   - `TableBatch(database, table, source, arrow_data)`: rows; the lake adds `lake_source` and writes Parquet;
   - `ParquetPart(database, table, path, rows, sources)`: a Parquet file the reader wrote itself at
     `ctx.part_path(database, table)` (fast path, e.g. a DuckDB COPY) holding a `lake_source` column;
   - `Quarantined(source, position, modality, reason, raw)`: goes to `lake_meta.quarantine`;
   - `Skipped(source, position, reason, count)`: goes to `lake_meta.skipped` (deliberately not loaded);
   - `Note(source, subject, message)`: named in the run summary (e.g. an image set without radiomics);
   - `FileDone(source, read, loaded, quarantined, skipped)`: one per file, read = loaded + quarantined +
     skipped; files without one are not committed at all (a rerun reads them again). A reader may re-read
     files from `ctx.unchanged` too: any file closed by a FileDone has its earlier rows replaced. A FileDone
     may name a `group` (imaging: the study); the manifest keeps it and hands it back on the file's
     `ctx.unchanged` entry, so a reader finds a changed group's other files without reading them all;
   - `FileGroup(source, group)`: the group of an unchanged file the reader opened only to learn it (a lake
     written before groups were kept); the manifest records it and the file's rows stay;
3. commits: earlier rows of the files read are removed from older parts, the new parts move into place (for S3,
   objects uploaded), the manifest is replaced atomically. A run killed at any point leaves the previous
   manifest, hence the previous lake, intact.

After the last modality the store publishes the catalog once (`Store.publish_catalog`: `lake.duckdb` rebuilt
locally, Glue tables updated on S3). What differs between a local and an S3 lake is the store's to answer
(`mmhealth.lake.store.Store`); the run never asks which one it has.

Options reach readers as `ctx.options`, an `IngestOptions` (`mmhealth.ingest.records`): `reference` (FASTA
path), `segmenter` (name), `workers` (int), ...
Readers never raise for bad input: they quarantine it and carry on. They may raise `MMHealthError` for
problems the user must fix before anything can be read (e.g. a missing --reference file).

Python entry point: `mmhealth.lake.ingest.run_ingest(source, lake, modalities, options) -> IngestReport`, where
`options` is an `IngestOptions` or a mapping of its field names (an unknown name is an error).
"""
