{{ config(
    materialized='incremental', incremental_strategy='merge', unique_key='genome_file_id',
    on_schema_change='append_new_columns', table_type='iceberg',
    post_hook="{{ mmh_drop_replaced_genome_files() }}"
) }}
{#- The VCFs behind each sample's calls: one row per sample, normalized contig and source file version, with the
    one whose calls count marked `is_current` (macros/genomics/genomes.sql: newest lake run, then the last source
    path). Stored, not a view: stg_omics__variant_calls and the post-hooks of the incremental genome models read it
    several times per run, and it is small (one row per sample, contig and file). Incremental (MERGE on
    genome_file_id): a full build reads a column set of every variant row; a scheduled run reads only the variant
    rows of newer lake runs and the ingest log, and decides is_current again for the samples and contigs they touch.
    Also for analysts: "which file are this patient's chr7 calls from, and what did it replace?". -#}
-- depends_on: {{ source('lake_meta', 'ingest_log') }}
{{ mmh_genome_files(source('omics', 'variants')) }}
