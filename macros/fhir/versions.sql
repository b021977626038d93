{#- Resource versions. HealthLake's view holds the current version of each resource. This project's lake keeps
    every version it was given: a bulk export `_since` a date sends a changed resource again, in a new file, and
    the ingest appends it (a file's rows are replaced only by a new copy of the same file). Staging therefore reads
    only the current version of each id: the newest `meta.lastUpdated`, then the newest lake run, then the last
    source path (two copies in one run), then the later record in the file (`lake_position`: two copies in one
    file, e.g. a history Bundle or an export that repeats a line; ingest numbers the records of such files). A stale
    copy sent again later (an older lastUpdated) loses to the version already held. So each id has exactly one
    current row, whatever the input repeated.

    Renders a boolean over `alias` (a row of `relation`): true when no newer version of the same id exists. Plain
    `true` when the relation has no lake_run (HealthLake's own view: one version per id already) or no id. DuckDB
    plans the correlated NOT EXISTS as an anti-join on id, and a filter on the outer row's lake_run still reaches
    its scan, so an incremental run reads only the new rows plus the id / version columns (benchmarks/dbt.md has
    what full reads pay). Trino decorrelates a filter-only EXISTS into a join too; not measured on Athena here. -#}
{% macro mmh_current_version(relation, columns, alias='r') -%}
{%- if mmh_has_path(columns, 'id') and mmh_has_path(columns, 'lake_run') and mmh_has_path(columns, 'lake_source') -%}
  {%- set later_copy -%}
    newer.lake_run > {{ alias }}.lake_run
    or (newer.lake_run = {{ alias }}.lake_run and newer.lake_source > {{ alias }}.lake_source)
    {%- if mmh_has_path(columns, 'lake_position') %}
    {#- positions are set only in files that repeat an id; elsewhere null, and never needed -#}
    or (newer.lake_run = {{ alias }}.lake_run and newer.lake_source = {{ alias }}.lake_source
        and coalesce(newer.lake_position, 0) > coalesce({{ alias }}.lake_position, 0))
    {%- endif %}
  {%- endset -%}
not exists (
    select 1 from {{ relation }} as newer
    where newer.id = {{ alias }}.id
  {%- if mmh_has_path(columns, 'meta.lastupdated') %}
  {#- a missing lastUpdated counts as the oldest -#}
  {%- set floor = mmh_cast("'1900-01-01'", 'timestamp') %}
  {%- set newer_at = 'coalesce(' ~ mmh_timestamp('newer.meta.lastupdated') ~ ', ' ~ floor ~ ')' %}
  {%- set this_at = 'coalesce(' ~ mmh_timestamp(alias ~ '.meta.lastupdated') ~ ', ' ~ floor ~ ')' %}
      and ({{ newer_at }} > {{ this_at }} or ({{ newer_at }} = {{ this_at }} and ({{ later_copy }})))
  {%- else %}
      and ({{ later_copy }})
  {%- endif %}
)
{%- else -%}
true
{%- endif -%}
{%- endmacro %}
