{#- What keeps a person from being recognized in the marts: the pseudonymous patient key every mart joins on, and
    small-cell suppression of the population marts' counts (docs/governance.md). -#}

{#- Pseudonymous patient key: a keyed hash of the FHIR patient id, nested so it is not open to length extension:
    sha256(K ':' sha256(K ':' id)), K the key's hex text. The SQL names where the key is kept (a file locally, a
    restricted one-row table on Athena; macro mmh_pseudonym_key_relation) and the warehouse reads it at run time, so
    the key itself never appears in compiled SQL, dbt's artifacts or logs, or the query history. Both engines hash
    the same text the same way: one key gives one patient_key per id on DuckDB and Athena. -#}
{% macro mmh_patient_key(id_expr) -%}
{%- set key = "(select pk.key_hex from " ~ mmh_pseudonym_key_relation() ~ " as pk)" -%}
case when {{ id_expr }} is null then null
     else {{ mmh_sha256(key ~ " || ':' || " ~ mmh_sha256(key ~ " || ':' || cast(" ~ id_expr ~ " as varchar)")) }} end
{%- endmacro %}

{#- Small-cell suppression for population marts: counts from 1 to threshold-1 are nulled (0 is not identifying). -#}
{% macro suppress(count_expr) -%}
case when {{ count_expr }} > 0 and {{ count_expr }} < {{ var('small_cell_threshold') }} then null else {{ count_expr }} end
{%- endmacro %}

{#- Whether suppress() nulls the count (1 to threshold-1), for rates and flags built from suppressed counts. -#}
{% macro is_small_cell(count_expr) -%}
({{ count_expr }} > 0 and {{ count_expr }} < {{ var('small_cell_threshold') }})
{%- endmacro %}
