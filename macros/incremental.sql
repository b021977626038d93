{#- Incremental facts: on an incremental run only rows newer than the table's newest watermark go to the MERGE
    (unique key = the id, so a re-ingested resource is updated in place). Watermarks: the lake's commit run
    `source_lake_run` locally, HealthLake's `meta.lastUpdated` (`source_last_updated_at`) on AWS - whichever the table
    holds. Their newest values are read first and written into the SQL as literals, so the engine can prune
    partitions (the local lake is partitioned by lake_run). A table without any watermark falls back to the ids
    not loaded yet. A full refresh is needed after rotating MMHEALTH_PSEUDONYM_KEY or deleting resources from the
    lake (a MERGE never deletes). -#}
{% macro mmh_incremental_filter(id_column, watermark_columns=[], alias='s') -%}
{%- if not var('offline_catalog', false) and mmh_catalog_readable() and is_incremental() %}
  {%- set conditions = [] %}
  {%- for w in watermark_columns %}
    {%- set newest = run_query('select cast(max(' ~ w ~ ') as varchar) from ' ~ this).columns[0].values()[0] %}
    {%- if newest is not none %}
      {%- set literal = "'" ~ newest ~ "'" %}
      {%- do conditions.append(alias ~ '.' ~ w ~ ' > ' ~ (mmh_cast(literal, 'timestamp') if w.endswith('_at') else literal)) %}
    {%- endif %}
  {%- endfor %}
  {%- if conditions %}
where {{ conditions | join(' or ') }}
  {%- else %}
where not exists (select 1 from {{ this }} as existing where existing.{{ id_column }} = {{ alias }}.{{ id_column }})
  {%- endif %}
{%- endif %}
{%- endmacro %}

{#- Small-cell suppression for population marts: counts from 1 to threshold-1 are nulled (0 is not identifying). -#}
{% macro suppress(count_expr) -%}
case when {{ count_expr }} > 0 and {{ count_expr }} < {{ var('small_cell_threshold') }} then null else {{ count_expr }} end
{%- endmacro %}
{% macro is_small_cell(count_expr) -%}
({{ count_expr }} > 0 and {{ count_expr }} < {{ var('small_cell_threshold') }})
{%- endmacro %}
