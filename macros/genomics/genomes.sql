{#- Genome versions: which VCF's calls count when a sample is in several (docs/dbt.md "Genome versions").

    The lake keeps every VCF it was given. The same sample routinely arrives in several: a re-call, one file per
    chromosome, a trio file and a single-sample file of the same person. The rule, like FHIR's current version
    (versions.sql): for each sample and (normalized) contig, the calls of ONE file count - the newest lake run, then
    the last source path (two files in one run). A re-call replaces the older calls of the contigs it covers,
    per-chromosome files add up, a person's calls are never counted twice. Inside that one file a site written
    twice keeps one record (stg_omics__variant_calls says which). Over HealthOmics' own tables (no lake_source or
    lake_run) every sample and contig is one file and nothing is superseded.

    A genome file is identified by sample (or patient key), contig, source file and lake run; the run is part of it,
    so a file that was replaced in the lake (same path, new content) is a new version too. -#}

{#- The id of a genome file version, from column expressions. -#}
{% macro mmh_genome_file_id(sample_expr, contig_expr, file_expr, run_expr) -%}
{{ sample_expr }} || '|' || {{ contig_expr }} || '|' || coalesce({{ file_expr }}, '') || '|' || coalesce({{ run_expr }}, '')
{%- endmacro %}

{#- One row per sample, contig and source file version of `relation` (omics.variants), `is_current` for the one
    whose calls count. Reads four columns of every variant row (dictionary-encoded in the lake's Parquet). -#}
{% macro mmh_genome_files(relation) -%}
{%- set columns = mmh_source_columns(relation) -%}
{%- if columns is none or not (mmh_has_path(columns, 'sampleid') and mmh_has_path(columns, 'contigname')) -%}
select
    cast(null as varchar) as genome_file_id, cast(null as varchar) as sample_id, cast(null as varchar) as contig,
    cast(null as varchar) as source_file, cast(null as varchar) as source_lake_run, cast(null as bigint) as n_rows,
    cast(null as boolean) as is_current
where 1 = 0
{%- else -%}
select
    {{ mmh_genome_file_id('f.sample_id', 'f.contig', 'f.source_file', 'f.source_lake_run') }} as genome_file_id,
    f.sample_id,
    f.contig,
    f.source_file,
    f.source_lake_run,
    f.n_rows,
    row_number() over (
        partition by f.sample_id, f.contig
        order by f.source_lake_run desc nulls last, f.source_file desc nulls last
    ) = 1 as is_current
from (
    select
        cast(g.sampleid as varchar) as sample_id,
        cast({{ normalize_contig('g.contigname') }} as varchar) as contig,
        cast({{ 'g.lake_source' if mmh_has_path(columns, 'lake_source') else 'null' }} as varchar) as source_file,
        cast({{ 'g.lake_run' if mmh_has_path(columns, 'lake_run') else 'null' }} as varchar) as source_lake_run,
        count(*) as n_rows
    from {{ relation }} as g
    where g.sampleid is not null
    group by 1, 2, 3, 4
) as f
{%- endif -%}
{%- endmacro %}

{#- Post-hook of the incremental genome models: a MERGE never deletes, so after it the rows of genome files that
    are no longer current (a newer file of the same sample and contig was merged) are deleted, which leaves the
    table as a full refresh would build it. `id_expr` is the row's genome file id (mmh_genome_file_id);
    `by_patient` when the table holds patient keys instead of sample ids. On a full build there is nothing to do. -#}
{% macro mmh_drop_superseded_genomes(id_expr, by_patient=false) -%}
{%- if is_incremental() -%}
delete from {{ this }}
where {{ id_expr }} not in (
    select {{ mmh_genome_file_id('k.patient_key' if by_patient else 'g.sample_id', 'g.contig', 'g.source_file', 'g.source_lake_run') }}
    from ({{ mmh_genome_files(source('omics', 'variants')) }}) as g
    {%- if by_patient %}
    inner join {{ ref('int_patient_spine') }} as k on k.patient_id = g.sample_id
    {%- endif %}
    where g.is_current
)
{%- else -%}
select 1 as nothing_to_delete
{%- endif -%}
{%- endmacro %}
