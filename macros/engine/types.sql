{#- Cast to a type named portably (varchar, double, bigint, integer, boolean, date, timestamp, <type>[]). -#}
{% macro mmh_cast(expr, type) -%}
{%- if type == 'timestamp' -%}cast({{ expr }} as {{ mmh_timestamp_type() }})
{%- elif type.endswith('[]') -%}cast({{ expr }} as {{ mmh_list_type(type[:-2]) }})
{%- else -%}cast({{ expr }} as {{ type }}){%- endif -%}
{%- endmacro %}

