{{ config(materialized='table') }}
{#- The VCFs behind each sample's calls: one row per sample, normalized contig and source file version, with the
    one whose calls count marked `is_current` (macros/genomics/genomes.sql: newest lake run, then the last source
    path). A table, rebuilt on every run: stg_omics__variant_calls and the post-hooks of the incremental genome
    models read it several times per run, and it is small (one row per sample, contig and file) while computing it
    reads a column set of every variant row. Also for analysts: "which file are this patient's chr7 calls from, and
    what did it replace?". -#}
{{ mmh_genome_files(source('omics', 'variants')) }}
