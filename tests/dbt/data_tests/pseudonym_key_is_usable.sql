{#- The pseudonym key the build hashes with is one well-formed key: exactly one row of 32+ hex characters, read where
    the key is kept (macro mmh_pseudonym_key_relation). Returns counts and lengths only, never the key. On DuckDB the
    key relation itself refuses a bad key file; on Athena an empty key table would null every patient_key and a short
    one would weaken it, so this test, attached to int_patient_spine, stops `dbt build` before any mart is built. -#}
{{ config(tags=['pseudonym']) }}
-- depends_on: {{ ref('int_patient_spine') }}
with key_rows as (
    select
        count(*) as n_rows,
        min(length(pk.key_hex)) as shortest,
        max(length(translate(lower(pk.key_hex), '0123456789abcdef', ''))) as non_hex_chars
    from {{ mmh_pseudonym_key_relation() }} as pk
)

select n_rows, shortest, non_hex_chars
from key_rows
where n_rows <> 1 or coalesce(shortest, 0) < 32 or coalesce(non_hex_chars, 0) > 0
