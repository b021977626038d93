{#- Cast to a type named portably (varchar, double, bigint, integer, boolean, date, timestamp, <type>[]). -#}
{% macro mmh_cast(expr, type) -%}
{%- if type == 'timestamp' -%}cast({{ expr }} as {{ mmh_timestamp_type() }})
{%- elif type.endswith('[]') -%}cast({{ expr }} as {{ mmh_list_type(type[:-2]) }})
{%- else -%}cast({{ expr }} as {{ type }}){%- endif -%}
{%- endmacro %}

{#- A scalar cast (double, integer, bigint, boolean, varchar) that yields null where `cast` would fail the query: a
    lake column holds whatever the source sent, and one string in a numeric FHIR field must not stop a build. The
    value goes through its text, and the engines are held to the same rules: DuckDB would read the JSON string "5" as
    the number 5 and round "7.5" into the integer 8, Athena (where such a column is a plain string) would refuse
    both; here both refuse them. Integers are whole numbers (7 or 7.0, not 7.5), booleans true / false. -#}
{% macro mmh_try_cast(expr, type) %}{{ return(adapter.dispatch('mmh_try_cast', 'mmhealth')(expr, type)) }}{% endmacro %}
{% macro default__mmh_try_cast(expr, type) -%}
{%- set text = 'cast(' ~ expr ~ ' as varchar)' -%}
{%- if type == 'double' -%}try_cast({{ text }} as double)
{%- elif type in ('integer', 'bigint') -%}
{#- a whole number written as a decimal (40.0: the column holds decimals because another record did) still counts -#}
{%- set number = 'try_cast(' ~ text ~ ' as double)' -%}
case when {{ mmh_is_integer_text(text) }} then try_cast({{ text }} as {{ type }})
     when {{ number }} = floor({{ number }}) then try_cast({{ number }} as {{ type }}) end
{%- elif type == 'boolean' -%}case lower({{ text }}) when 'true' then true when 'false' then false end
{%- elif type == 'varchar' -%}{{ text }}
{%- else -%}{{ exceptions.raise_compiler_error("mmh_try_cast takes double, integer, bigint, boolean or varchar, not " ~ type) }}
{%- endif -%}
{%- endmacro %}
