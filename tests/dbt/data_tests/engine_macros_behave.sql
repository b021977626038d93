{#- Every engine macro (macros/engine/dispatch.sql) and the FHIR / genomics helpers on literal inputs, each case a
    boolean `passed`. Returns the failing cases (a passing test returns no rows). Runs on DuckDB in `dbt build`;
    tests/dbt/test_athena.py runs the Athena-compiled form of this file too (transpiled to DuckDB), so both
    the duckdb__ and the athena__ implementations are checked. Literals use syntax both engines read. -#}
{{ config(tags=['engine']) }}
{%- set ts = "cast('%s' as timestamp)" -%}
with cases as (
    select 'mmh_timestamp offset' as case_name,
        {{ mmh_timestamp("'2020-01-01T10:00:00-05:00'") }} = {{ ts | format('2020-01-01 15:00:00') }} as passed
    union all
    select 'mmh_timestamp utc z', {{ mmh_timestamp("'2020-01-01T10:00:00Z'") }} = {{ ts | format('2020-01-01 10:00:00') }}
    union all
    select 'mmh_timestamp date', {{ mmh_timestamp("'2019-03-04'") }} = {{ ts | format('2019-03-04 00:00:00') }}
    union all
    select 'mmh_timestamp year', {{ mmh_timestamp("'1970'") }} = {{ ts | format('1970-01-01 00:00:00') }}
    union all
    select 'mmh_timestamp year-month', {{ mmh_timestamp("'1970-07'") }} = {{ ts | format('1970-07-01 00:00:00') }}
    union all
    select 'mmh_timestamp garbage is null', {{ mmh_timestamp("'not a date'") }} is null
    union all
    select 'mmh_cast timestamp', {{ mmh_cast(ts | format('2020-02-03 04:05:06'), 'timestamp') }} = {{ ts | format('2020-02-03 04:05:06') }}
    union all
    select 'mmh_try_cast double', {{ mmh_try_cast("'5.25'", 'double') }} = 5.25
    union all
    select 'mmh_try_cast double from double', {{ mmh_try_cast('cast(0.1 as double)', 'double') }} = cast(0.1 as double)
    union all
    select 'mmh_try_cast text is null', {{ mmh_try_cast("'abc'", 'double') }} is null
    union all
    select 'mmh_try_cast quoted number is null', {{ mmh_try_cast("'\"5\"'", 'double') }} is null
    union all
    select 'mmh_is_integer_text', {{ mmh_is_integer_text("'+12'") }} and not {{ mmh_is_integer_text("'1e3'") }}
    union all
    select 'mmh_try_cast integer', {{ mmh_try_cast("'-42'", 'integer') }} = -42
    union all
    select 'mmh_try_cast integer from bigint', {{ mmh_try_cast('cast(7 as bigint)', 'integer') }} = 7
    union all
    select 'mmh_try_cast fraction is no integer', {{ mmh_try_cast("'7.5'", 'integer') }} is null
    union all
    select 'mmh_try_cast whole decimal is an integer', {{ mmh_try_cast('cast(40 as double)', 'integer') }} = 40
    union all
    select 'mmh_try_cast boolean', {{ mmh_try_cast("'TRUE'", 'boolean') }} and not {{ mmh_try_cast('false', 'boolean') }}
    union all
    select 'mmh_try_cast other text is no boolean', {{ mmh_try_cast("'yes'", 'boolean') }} is null
    union all
    select 'mmh_invalid_value keeps the text', {{ mmh_invalid_value("'abc'", 'double') }} = 'abc'
    union all
    select 'mmh_invalid_value null when typed', {{ mmh_invalid_value("'2.5'", 'double') }} is null
    union all
    select 'mmh_first', {{ mmh_first("array['a', 'b']") }} = 'a'
    union all
    select 'mmh_first empty is null', {{ mmh_first(mmh_filter("array['a']", 'x', "x = 'z'")) }} is null
    union all
    select 'mmh_element', {{ mmh_element("array[10, 20, 30]", 2) }} = 20
    union all
    select 'mmh_element out of range is null', {{ mmh_element("array[10, 20, 30]", 5) }} is null
    union all
    select 'mmh_row_key equal tuples', {{ mmh_row_key(["'a'", "cast(null as varchar)", "3"]) }} = {{ mmh_row_key(["'a'", "cast(null as varchar)", "3"]) }}
    union all
    select 'mmh_row_key different tuples', {{ mmh_row_key(["'a'", "'b'"]) }} <> {{ mmh_row_key(["'a'", "'c'"]) }}
    union all
    select 'mmh_transform + mmh_list_join',
        {{ mmh_list_join(mmh_transform("array[1, -1, 2]", 'x', "case when x < 0 then '.' else cast(x as varchar) end"), '/') }} = '1/./2'
    union all
    select 'mmh_filter + mmh_length', {{ mmh_length(mmh_filter("array[1, 2, 3, 4]", 'x', 'x > 2')) }} = 2
    union all
    select 'mmh_list_type', {{ mmh_length("cast(array[1, 2] as " ~ mmh_list_type('integer') ~ ")") }} = 2
    union all
    select 'mmh_cast list', {{ mmh_element(mmh_cast("array['x']", 'varchar[]'), 1) }} = 'x'
    union all
    select 'mmh_list_join', {{ mmh_list_join("array['a', 'b', 'c']", ';') }} = 'a;b;c'
    union all
    select 'mmh_map_get', {{ mmh_map_get("map(array['CLNSIG', 'RS'], array['Pathogenic', '6025'])", 'CLNSIG') }} = 'Pathogenic'
    union all
    select 'mmh_map_get missing key is null', {{ mmh_map_get("map(array['CLNSIG'], array['Pathogenic'])", 'GENEINFO') }} is null
    union all
    select 'mmh_json_scalar', {{ mmh_json_scalar("'{\"url\": \"u\", \"valueString\": \"White\"}'", '$.valueString') }} = 'White'
    union all
    select 'mmh_sha256', {{ mmh_sha256("'abc'") }} = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
    union all
    select 'mmh_pseudonym_key_relation one key of 32+ hex characters', count(*) = 1 and min(length(pk.key_hex)) >= 32
    from {{ mmh_pseudonym_key_relation() }} as pk
    union all
    select 'mmh_add_days', cast({{ mmh_add_days("cast('2020-02-27' as date)", 3) }} as date) = cast('2020-03-01' as date)
    union all
    select 'mmh_add_days negative', cast({{ mmh_add_days("cast('2020-03-01' as date)", -1) }} as date) = cast('2020-02-29' as date)
    union all
    select 'mmh_years_between before anniversary', {{ mmh_years_between("cast('2000-05-02' as date)", "cast('2020-05-01' as date)") }} = 19
    union all
    select 'mmh_years_between on anniversary', {{ mmh_years_between("cast('2000-05-02' as date)", "cast('2020-05-02' as date)") }} = 20
    union all
    select 'mmh_explode values and positions', count(*) = 3 and sum(e.i) = 6 and max(e.k) = 1
        and sum(case when e.v = 'b' and e.i = 2 then 1 else 0 end) = 1
    from ({{ mmh_explode("(select 1 as k, array['a', 'b', 'c'] as l)", 't', 't.l', 'v', 'i') }}) as e
    union all
    select 'mmh_explode empty and null lists give no rows', count(*) = 0
    from ({{ mmh_explode("(select " ~ mmh_filter("array['a']", 'x', "x = 'z'") ~ " as l union all select cast(null as " ~ mmh_list_type('varchar') ~ "))", 't', 't.l', 'v', 'i') }}) as e
    union all
    select 'mmh_percentile median', abs({{ mmh_percentile('x', 0.5) }} - 3.0) < 0.5
    from (values (1.0), (2.0), (3.0), (4.0), (5.0)) as v (x)
    union all
    select 'fhir_reference_id Patient/', {{ fhir_reference_id("'Patient/123'", 'Patient') }} = '123'
    union all
    select 'fhir_reference_id urn:uuid', {{ fhir_reference_id("'urn:uuid:0a1b-2c'", 'Patient') }} = '0a1b-2c'
    union all
    select 'fhir_reference_id bare id', {{ fhir_reference_id("'abc'", 'Patient') }} = 'abc'
    union all
    select 'fhir_reference_id absolute versioned', {{ fhir_reference_id("'https://h/fhir/Patient/9/_history/2'", 'Patient') }} = '9'
    union all
    select 'fhir_reference_id other type is null', {{ fhir_reference_id("'Group/7'", 'Patient') }} is null
    union all
    select 'normalize_contig chrX', {{ normalize_contig("'chrX'") }} = 'X'
    union all
    select 'normalize_contig bare', {{ normalize_contig("'7'") }} = '7'
    union all
    select 'normalize_contig chrMT', {{ normalize_contig("'chrMT'") }} = 'M'
    union all
    select 'mmh_engine_sql picks one text', {{ mmh_engine_sql("'x'", "'x'") }} = 'x'
    union all
    select 'mmh_materialized_cte read twice',
        (with m as {{ mmh_materialized_cte() }} (select 2 as two) select a.two + b.two from m as a cross join m as b) = 4
)

select case_name
from cases
where passed is null or not passed
