{#- Incremental facts: on an incremental run only rows whose id is not in the table yet, or whose watermark
    (the lake's commit run `lake_run` locally, HealthLake's meta.lastUpdated on AWS) is newer than the newest one
    already loaded, go to the MERGE (unique key = the id), so a changed source file's rows are updated in place.
    A full refresh is needed after rotating MMHEALTH_PSEUDONYM_KEY or deleting resources from the lake. -#}
{% macro mmh_incremental_filter(id_column, watermark_columns=[], alias='s') -%}
{%- if not var('offline_catalog', false) and is_incremental() %}
where not exists (select 1 from {{ this }} as existing where existing.{{ id_column }} = {{ alias }}.{{ id_column }})
    {%- for w in watermark_columns %}
    or {{ alias }}.{{ w }} > (select max(existing.{{ w }}) from {{ this }} as existing)
    {%- endfor %}
{%- endif %}
{%- endmacro %}

{#- Small-cell suppression for population marts: counts from 1 to threshold-1 are nulled (0 is not identifying). -#}
{% macro suppress(count_expr) -%}
case when {{ count_expr }} > 0 and {{ count_expr }} < {{ var('small_cell_threshold') }} then null else {{ count_expr }} end
{%- endmacro %}
{% macro is_small_cell(count_expr) -%}
({{ count_expr }} > 0 and {{ count_expr }} < {{ var('small_cell_threshold') }})
{%- endmacro %}
