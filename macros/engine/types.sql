{#- Cast to a type named portably (varchar, double, bigint, integer, boolean, date, timestamp). -#}
{% macro mmh_cast(expr, type) -%}
{%- if type == 'timestamp' -%}cast({{ expr }} as {{ mmh_timestamp_type() }})
{%- else -%}cast({{ expr }} as {{ type }}){%- endif -%}
{%- endmacro %}

