{#- Typing source values in staging. A lake column holds what the source sent: FHIR's JSON types are not enforced at
    ingest (a `valueQuantity.value` of "abc" loads, and the column becomes JSON text). Staging types numbers and
    booleans with `mmh_try_cast`, so such a value becomes null instead of failing the build, and keeps the source
    text beside it in a `<column>_invalid` column, so nothing disappears unseen. Dates and instants already go
    through `mmh_timestamp`, which is null for text that is not one. -#}

{#- The types staging reads with mmh_try_cast (the others are text, or timestamps read by mmh_timestamp). -#}
{% macro mmh_checked_types() %}{{ return(['double', 'integer', 'bigint', 'boolean']) }}{% endmacro %}

{#- The source text of a value that `type` cannot hold; null when the value is absent or typed fine. -#}
{% macro mmh_invalid_value(expr, type) -%}
case when {{ expr }} is not null and {{ mmh_try_cast(expr, type) }} is null then cast({{ expr }} as varchar) end
{%- endmacro %}
