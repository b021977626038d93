{#- Incremental facts: on an incremental run, only rows whose id is not in the table yet, or whose source
    resource was updated after the newest update already loaded, go to the MERGE (unique key = the id). A full
    refresh is needed after rotating MMHEALTH_PSEUDONYM_KEY or deleting resources from the lake. -#}
{% macro mmh_incremental_filter(id_column, updated_column=none, alias='s') -%}
{%- if is_incremental() %}
where not exists (select 1 from {{ this }} as existing where existing.{{ id_column }} = {{ alias }}.{{ id_column }})
    {%- if updated_column %}
    or {{ alias }}.{{ updated_column }} > (select max(existing.{{ updated_column }}) from {{ this }} as existing)
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
