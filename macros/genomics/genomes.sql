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
    whose calls count. A full build reads four columns of every variant row (dictionary-encoded in the lake's
    Parquet). An incremental run (stg_omics__genome_files) reads only the rows of lake runs newer than the table
    and the ingest log: it adds the new file versions, drops the versions a later run of the same file replaced
    (mmh_drop_replaced_genome_files, a post-hook; the lake keeps only a file's latest rows) and decides
    `is_current` again for the samples and contigs either touched, with their other files - the rows a full build
    would change, no more. -#}
{% macro mmh_genome_files(relation) -%}
{%- set columns = mmh_source_columns(relation) -%}
{%- if columns is none or not (mmh_has_path(columns, 'sampleid') and mmh_has_path(columns, 'contigname')) -%}
select
    cast(null as varchar) as genome_file_id, cast(null as varchar) as sample_id, cast(null as varchar) as contig,
    cast(null as varchar) as source_file, cast(null as varchar) as source_lake_run, cast(null as bigint) as n_rows,
    cast(null as boolean) as is_current
where 1 = 0
{%- else -%}
{%- set newest = none -%}
{#- not in a unit test (its inputs are CTEs, and it has no table to merge into) -#}
{%- if mmh_has_path(columns, 'lake_run') and mmh_has_path(columns, 'lake_source')
      and not (relation.identifier or '').startswith('__dbt__cte__')
      and not var('offline_catalog', false) and mmh_catalog_readable() and is_incremental() -%}
  {%- set newest = run_query('select cast(max(source_lake_run) as varchar) from ' ~ this).columns[0].values()[0] -%}
{%- endif -%}
with grouped as (
    -- contig names normalized after a first grouping by the names as written: a handful of rows, not every call
    select
        c.sample_id,
        cast({{ normalize_contig('c.contig_name') }} as varchar) as contig,
        c.source_file,
        c.source_lake_run,
        sum(c.n_rows) as n_rows
    from (
        select
            cast(g.sampleid as varchar) as sample_id,
            cast(g.contigname as varchar) as contig_name,
            cast({{ 'g.lake_source' if mmh_has_path(columns, 'lake_source') else 'null' }} as varchar) as source_file,
            cast({{ 'g.lake_run' if mmh_has_path(columns, 'lake_run') else 'null' }} as varchar) as source_lake_run,
            count(*) as n_rows
        from {{ relation }} as g
        where g.sampleid is not null{% if newest is not none %} and g.lake_run > '{{ newest }}'{% endif %}
        group by 1, 2, 3, 4
    ) as c
    group by 1, 2, 3, 4
),
{%- if newest is not none %}

-- the versions this table holds that a later ingest run replaced by reading their file again (the lake then holds
-- only the file's new rows): found from the ingest log's few re-read files, so the held rows are not all scanned
replaced as (
{{ mmh_replaced_genome_files() }}
),

touched as (
    select sample_id, contig from grouped
    union
    select sample_id, contig from replaced
),

files as (
    select sample_id, contig, source_file, source_lake_run, n_rows from grouped
    union all
    select t.sample_id, t.contig, t.source_file, t.source_lake_run, t.n_rows
    from {{ this }} as t
    inner join touched as u on t.sample_id = u.sample_id and t.contig = u.contig
    where t.genome_file_id not in (select genome_file_id from replaced)
)
{%- else %}

files as (
    select * from grouped
)
{%- endif %}

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
from files as f
{%- endif -%}
{%- endmacro %}

{#- The file versions this table (`this`) holds that a later ingest run replaced by reading their file again (the
    lake then holds only that run's rows of it): genome_file_id, sample_id, contig. Found from the ingest log's
    genomics files read in more than one run: a held version older than its file's last run was replaced. A file
    read once has one version, its own run's; a file is read again only when its content changed, so the log's side
    is a few rows, or none. The incremental run and its post-hook ask the same. -#}
{% macro mmh_replaced_genome_files() -%}
select t.genome_file_id, t.sample_id, t.contig
from {{ this }} as t
inner join (
    select l.lake_source as source_file, max(l.run_id) as last_run
    from {{ source('lake_meta', 'ingest_log') }} as l
    where l.modality = 'genomics'
    group by l.lake_source
    having min(l.run_id) < max(l.run_id)
) as r on t.source_file = r.source_file and t.source_lake_run < r.last_run
{%- endmacro %}

{#- Post-hook of stg_omics__genome_files: a MERGE never deletes, so after it the file versions a later ingest run
    replaced (the run re-read the file: the lake holds only its new rows) are deleted, as a full build would leave
    the table. Nothing to do on a full build. -#}
{% macro mmh_drop_replaced_genome_files() -%}
{%- if not var('offline_catalog', false) and mmh_catalog_readable() and is_incremental() -%}
delete from {{ this }}
where genome_file_id in (select replaced.genome_file_id from ({{ mmh_replaced_genome_files() }}) as replaced)
{%- else -%}
select 1 as nothing_to_delete
{%- endif -%}
{%- endmacro %}

{#- Post-hook of the incremental genome models: a MERGE never deletes, so after it the rows of genome files that
    are no longer current (a newer file of the same sample and contig was merged) are deleted, which leaves the
    table as a full refresh would build it. `id_expr` is the row's genome file id (mmh_genome_file_id);
    `by_patient` when the table holds patient keys instead of sample ids. On a full build, or when no genome file
    was ever superseded, there is nothing to do. -#}
{% macro mmh_drop_superseded_genomes(id_expr, by_patient=false) -%}
{%- if is_incremental() and mmh_superseded_genome_files() -%}
delete from {{ this }}
where {{ id_expr }} not in (
    select {{ mmh_genome_file_id('k.patient_key' if by_patient else 'g.sample_id', 'g.contig', 'g.source_file', 'g.source_lake_run') }}
    from {{ ref('stg_omics__genome_files') }} as g
    {%- if by_patient %}
    inner join {{ ref('int_patient_spine') }} as k on k.patient_id = g.sample_id
    {%- endif %}
    where g.is_current
)
{%- else -%}
select 1 as nothing_to_delete
{%- endif -%}
{%- endmacro %}

{#- CTEs `<name>_duplicated` and `<name>`: the rows of CTE `rows_cte` with one row per `keys` (columns), the first
    by `order_by` (over alias `r`) where several share them. Rows are almost always unique, so only rows whose key
    hash (mmh_row_key) is shared go through the window, which partitions by the keys themselves (a hash shared by
    different keys only costs a little sorting). A window over every row cost more than the rest of the model, and a
    GROUP BY on the keys' text nearly as much (measured on 1.2M variant rows). `columns`: the output columns.
    `repeated=false` (from mmh_repeated_sites) renders a plain select. -#}
{% macro mmh_one_row_per(name, rows_cte, keys, order_by, columns, repeated=true) -%}
{%- set row_keys = [] -%}
{%- for k in keys %}{% do row_keys.append('r.' ~ k) %}{% endfor -%}
{%- if not repeated -%}
-- no file repeats a site in the rows of this run (mmh_repeated_sites): nothing to deduplicate
{{ name }} as (
    select {% for c in columns %}r.{{ c }}{{ ', ' if not loop.last }}{% endfor %}
    from {{ rows_cte }} as r
)
{%- else -%}
{{ name }}_duplicated as (
    select {{ mmh_row_key(keys) }} as copy_key
    from {{ rows_cte }}
    group by 1
    having count(*) > 1
),

{{ name }} as (
    select {% for c in columns %}r.{{ c }}{{ ', ' if not loop.last }}{% endfor %}
    from {{ rows_cte }} as r
    left join {{ name }}_duplicated as d on {{ mmh_row_key(row_keys) }} = d.copy_key
    where d.copy_key is null
    union all
    select {% for c in columns %}ranked.{{ c }}{{ ', ' if not loop.last }}{% endfor %}
    from (
        select
            r.*,
            row_number() over (partition by {{ row_keys | join(', ') }} order by {{ order_by }}) as copy_rank
        from {{ rows_cte }} as r
        inner join {{ name }}_duplicated as d on {{ mmh_row_key(row_keys) }} = d.copy_key
    ) as ranked
    where ranked.copy_rank = 1
)
{%- endif -%}
{%- endmacro %}

{#- `and <alias>.<watermark> > <newest in this table>` on an incremental run, before the genome models deduplicate:
    copies of a record share a lake run, so filtering first gives the same new rows and spares the work of
    deduplicating the rows already merged. Nothing on a full build or without a watermark (the model's final
    mmh_incremental_filter still applies). -#}
{% macro mmh_genome_rows_since(alias, watermark_columns) -%}
{%- if not var('offline_catalog', false) and mmh_catalog_readable() and is_incremental() -%}
  {%- set conditions = mmh_newer_than_this(watermark_columns, alias) -%}
  {%- if conditions %} and ({{ conditions | join(' or ') }}){% endif -%}
{%- endif -%}
{%- endmacro %}

{#- Whether two rows of `relation` from one file share a sample and a site (`key_columns`: sample, contig, start,
    REF, source file, lake run - as the relation names them), among the rows newer than this table on an
    incremental run (`run_column` against `watermark`). Read at run time, so the genome models skip the
    deduplicating SQL (a narrow GROUP BY, a materialized CTE and a window) when no file repeats a site, which is
    nearly always. True when it cannot be known - offline compile, dbt unit tests: the deduplicating SQL is always
    right, only slower. -#}
{% macro mmh_repeated_sites(relation, key_columns, run_column, watermark) %}
  {%- if not execute or var('offline_catalog', false) or not mmh_catalog_readable() %}{{ return(true) }}{% endif %}
  {%- if (relation.identifier or '').startswith('__dbt__cte__') %}{{ return(true) }}{% endif %}
  {%- set columns = mmh_source_columns(relation) %}
  {%- if columns is none %}{{ return(false) }}{% endif %}
  {%- set present = [] %}
  {%- for c in key_columns %}{% if mmh_has_path(columns, c) %}{% do present.append(c) %}{% endif %}{% endfor %}
  {%- set newer = [] %}
  {%- if is_incremental() and mmh_has_path(columns, run_column) %}
    {%- do newer.extend(mmh_newer_than_this([watermark], 'r')) %}
  {%- endif %}
  {%- set sql -%}
    select count(*) from (
        select {{ mmh_row_key(present) }} as k
        from {{ relation }} as r
        {%- if newer %} where {{ newer | join(' or ') | replace('r.' ~ watermark, 'r.' ~ run_column) }}{% endif %}
        group by 1
        having count(*) > 1
    ) as repeated
  {%- endset %}
  {{ return(run_query(sql).columns[0].values()[0] > 0) }}
{% endmacro %}

{#- Whether any genome file is superseded (stg_omics__genome_files has a row that is not current). Read at run time,
    so the genome models skip the superseded-file filter and the post-hook deletes in a lake where no sample ever
    came twice; true when it cannot be known (offline compile, unit tests). -#}
{% macro mmh_superseded_genome_files() %}
  {%- if not execute or var('offline_catalog', false) or not mmh_catalog_readable() %}{{ return(true) }}{% endif %}
  {%- set files = ref('stg_omics__genome_files') %}
  {%- if (files.identifier or '').startswith('__dbt__cte__') %}{{ return(true) }}{% endif %}
  {%- if adapter.get_relation(database=files.database, schema=files.schema, identifier=files.identifier) is none %}
    {{ return(true) }}
  {%- endif %}
  {%- set found = run_query('select count(*) from ' ~ files ~ ' where not is_current').columns[0].values()[0] %}
  {{ return(found > 0) }}
{% endmacro %}
