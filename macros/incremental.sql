{#- Incremental facts: on an incremental run only rows newer than the table's newest watermark go to the MERGE
    (unique key = the id, so a re-ingested resource is updated in place). Watermarks: the lake's commit run
    `source_lake_run` locally, HealthLake's `meta.lastUpdated` (`source_last_updated_at`) on AWS - whichever the table
    holds. Their newest values are read first and written into the SQL as literals, so the engine can prune
    partitions (the local lake is partitioned by lake_run). A table without any watermark falls back to the ids
    not loaded yet. A full refresh is needed after rotating the pseudonym key or deleting resources from the
    lake (a MERGE never deletes). -#}
{% macro mmh_incremental_filter(id_column, watermark_columns=[], alias='s') -%}
{%- if not var('offline_catalog', false) and mmh_catalog_readable() and is_incremental() %}
  {%- set conditions = mmh_newer_than_this(watermark_columns, alias) %}
  {%- if conditions %}
where {{ conditions | join(' or ') }}
  {%- else %}
where not exists (select 1 from {{ this }} as existing where existing.{{ id_column }} = {{ alias }}.{{ id_column }})
  {%- endif %}
{%- endif %}
{%- endmacro %}

{#- One condition `<alias>.<w> > <newest w in this table>` per watermark column that holds a value in this table;
    empty when none does. -#}
{% macro mmh_newer_than_this(watermark_columns, alias) -%}
  {%- set conditions = [] %}
  {%- for w in watermark_columns %}
    {%- set newest = run_query('select cast(max(' ~ w ~ ') as varchar) from ' ~ this).columns[0].values()[0] %}
    {%- if newest is not none %}
      {%- set literal = "'" ~ newest ~ "'" %}
      {%- do conditions.append(alias ~ '.' ~ w ~ ' > ' ~ (mmh_cast(literal, 'timestamp') if w.endswith('_at') else literal)) %}
    {%- endif %}
  {%- endfor %}
  {{ return(conditions) }}
{%- endmacro %}

{#- Patient-grain incremental marts (one row per patient, merged on patient_key): a condition on `key_expr` that
    keeps the patients with a row newer than this table's newest `source_lake_run` in any of `inputs` (pairs of
    relation and watermark columns), so an incremental run recomputes only them. The mart's own source_lake_run
    is the newest lake run among the rows behind a patient's row. 'true' (every patient) on a full build, or when
    the table holds no lake run (AWS, where the services' tables have none). -#}
{% macro mmh_changed_patients(key_expr, inputs) -%}
  {#- offline first: is_incremental() would look the table up in the catalog; a dbt unit test has no `this` -#}
  {%- if this is none or var('offline_catalog', false) or not mmh_catalog_readable() or not is_incremental() %}{{ return('true') }}{% endif %}
  {%- set newest = run_query('select cast(max(source_lake_run) as varchar) from ' ~ this).columns[0].values()[0] %}
  {%- if newest is none %}{{ return('true') }}{% endif %}
  {%- set selects = [] %}
  {%- for relation, watermarks in inputs %}
    {%- set newer = [] %}
    {%- for w in watermarks %}{% do newer.append(w ~ " > '" ~ newest ~ "'") %}{% endfor %}
    {%- do selects.append('select patient_key from ' ~ relation ~ ' where ' ~ newer | join(' or ')) %}
  {%- endfor %}
  {{ return(key_expr ~ ' in (' ~ selects | join(' union ') ~ ')') }}
{%- endmacro %}

{#- Post-hook of the patient-grain index-date intermediates (int_cv_history_features by patient_key, int_cv_labels by
    patient_id): a MERGE never deletes, so after it the rows of patients who are no longer indexed (a new Patient
    version dead by the index date, a moved index cutoff) are deleted, which leaves the table as a full refresh
    would build it. Nothing to do on a full build. -#}
{% macro mmh_delete_unindexed_patients(key='patient_key') -%}
{%- if not var('offline_catalog', false) and mmh_catalog_readable() and is_incremental() -%}
delete from {{ this }}
where {{ key }} not in (select {{ key }} from {{ ref('int_cv_index_dates') }})
{%- else -%}
select 1 as nothing_to_delete
{%- endif -%}
{%- endmacro %}

{#- Incremental strategy of the facts and the genome tables (config
    incremental_strategy=mmh_insert_or_merge_strategy(), optionally with `merge_probe`: columns that are equal
    whenever the unique keys are, and cheap to compare - the sample or the patient; default the unique key). A MERGE
    reads the whole target's key column to find rows to update, yet the new rows of a scheduled run are nearly
    always new resources, new genomes, new events; at 100,000 patients the MERGE was the largest cost of the genome
    tables (3 s for 12.7 million variant rows). So the target is probed first: when no new row's probe is held, a
    plain insert is the same result as the MERGE; otherwise the MERGE runs. The probe is a semi-join from the few
    new rows, which DuckDB answers from a hash table of them while it scans the key column once. Athena has no such
    strategy and keeps its Iceberg MERGE (macro below). -#}
{% macro get_incremental_mmh_merge_sql(arg_dict) %}
  {%- set target, source = arg_dict['target_relation'], arg_dict['temp_relation'] -%}
  {%- set probe = config.get('merge_probe') or [arg_dict['unique_key']] -%}
  {%- set matches = [] -%}
  {%- for c in probe %}{% do matches.append('held.' ~ c ~ ' is not distinct from new.' ~ c) %}{% endfor -%}
  {%- set held = run_query('select count(*) from (select 1 from ' ~ source ~ ' as new where exists (select 1 from '
      ~ target ~ ' as held where ' ~ matches | join(' and ') ~ ') limit 1) as probe').columns[0].values()[0] -%}
  {%- if held == 0 -%}
insert into {{ target }} by name select * from {{ source }}
  {%- else -%}
{{ get_incremental_merge_sql(arg_dict) }}
  {%- endif -%}
{% endmacro %}

{% macro mmh_insert_or_merge_strategy() %}{{ return(adapter.dispatch('mmh_insert_or_merge_strategy', 'mmhealth')()) }}{% endmacro %}
{% macro duckdb__mmh_insert_or_merge_strategy() %}{{ return('mmh_merge') }}{% endmacro %}
{% macro athena__mmh_insert_or_merge_strategy() %}{{ return('merge') }}{% endmacro %}
