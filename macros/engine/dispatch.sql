{#-
  Engine differences, and only here (with mmh_try_cast in types.sql; the one exception is the lake's default
  catalog, `lake` or the target's, which models/sources/sources.yml and macros/views/view_paths.sql read from
  target.type). Every dispatching macro has a `duckdb__` and an `athena__` implementation and no `default__`: a
  third engine must say how it does each thing instead of silently inheriting one engine's dialect
  (tests/dbt/test_lint.py holds every macro here to that). Where one ANSI form is right for both engines the macro
  does not dispatch at all (mmh_years_between). Models never test `target.type`.
  Each macro has literal cases in tests/dbt/data_tests/engine_macros_behave.sql, run on DuckDB by `dbt build` and,
  compiled for Athena and transpiled to DuckDB, by tests/dbt/test_athena.py - except mmh_timestamp_type (exercised
  through mmh_cast) and mmh_catalog_readable (exercised by every build and by the offline Athena compile).
-#}

{#- A FHIR instant/dateTime/date string (or an already typed timestamp) as a UTC timestamp.
    Partial dates ("2019", "2019-05") become the first instant of that period. -#}
{% macro mmh_timestamp(expr) %}{{ return(adapter.dispatch('mmh_timestamp', 'mmhealth')(expr)) }}{% endmacro %}
{% macro duckdb__mmh_timestamp(expr) -%}
cast(timezone('UTC', try_cast(
    case length(cast({{ expr }} as varchar)) when 4 then cast({{ expr }} as varchar) || '-01-01'
    when 7 then cast({{ expr }} as varchar) || '-01' else cast({{ expr }} as varchar) end as timestamptz)) as timestamp)
{%- endmacro %}
{% macro athena__mmh_timestamp(expr) -%}
cast(try(from_iso8601_timestamp(
    case length(cast({{ expr }} as varchar)) when 4 then cast({{ expr }} as varchar) || '-01-01'
    when 7 then cast({{ expr }} as varchar) || '-01' else replace(cast({{ expr }} as varchar), ' ', 'T') end)) at time zone 'UTC' as timestamp(6))
{%- endmacro %}

{#- The SQL type name of a timestamp column in a table (Athena Iceberg stores microseconds). -#}
{% macro mmh_timestamp_type() %}{{ return(adapter.dispatch('mmh_timestamp_type', 'mmhealth')()) }}{% endmacro %}
{% macro duckdb__mmh_timestamp_type() %}timestamp{% endmacro %}
{% macro athena__mmh_timestamp_type() %}timestamp(6){% endmacro %}

{#- The first element of a list, or null for an empty/absent list (Athena's a[1] raises out of range). -#}
{% macro mmh_first(list_expr) %}{{ return(adapter.dispatch('mmh_first', 'mmhealth')(list_expr)) }}{% endmacro %}
{% macro duckdb__mmh_first(list_expr) %}list_extract({{ list_expr }}, 1){% endmacro %}
{% macro athena__mmh_first(list_expr) %}element_at({{ list_expr }}, 1){% endmacro %}

{#- The i-th element (1-based) of a list, null when out of range. -#}
{% macro mmh_element(list_expr, i) %}{{ return(adapter.dispatch('mmh_element', 'mmhealth')(list_expr, i)) }}{% endmacro %}
{% macro duckdb__mmh_element(list_expr, i) %}list_extract({{ list_expr }}, {{ i }}){% endmacro %}
{% macro athena__mmh_element(list_expr, i) %}element_at({{ list_expr }}, {{ i }}){% endmacro %}

{#- Elements of a list for which `predicate` (over `var`) holds. -#}
{% macro mmh_filter(list_expr, var, predicate) %}{{ return(adapter.dispatch('mmh_filter', 'mmhealth')(list_expr, var, predicate)) }}{% endmacro %}
{% macro duckdb__mmh_filter(list_expr, var, predicate) %}list_filter({{ list_expr }}, {{ var }} -> {{ predicate }}){% endmacro %}
{% macro athena__mmh_filter(list_expr, var, predicate) %}filter({{ list_expr }}, {{ var }} -> {{ predicate }}){% endmacro %}

{#- Number of elements of a list (null for a null list). -#}
{% macro mmh_length(list_expr) %}{{ return(adapter.dispatch('mmh_length', 'mmhealth')(list_expr)) }}{% endmacro %}
{% macro duckdb__mmh_length(list_expr) %}len({{ list_expr }}){% endmacro %}
{% macro athena__mmh_length(list_expr) %}cardinality({{ list_expr }}){% endmacro %}

{#- A select over `from_sql` (aliased `alias`): each row once per element of its list `list_expr`, with the element
    as `value_name` and its 1-based position as `index_name`; a row whose list is empty or null yields no row.
    DuckDB unnests in the select list, which lets a filter on the row's own columns (an incremental watermark)
    reach the scan below - a lateral CROSS JOIN UNNEST stops it there. Athena unnests positions and reads the
    element at each, because unnesting an array of rows there expands the rows' fields into columns. -#}
{% macro mmh_explode(from_sql, alias, list_expr, value_name, index_name) %}{{ return(adapter.dispatch('mmh_explode', 'mmhealth')(from_sql, alias, list_expr, value_name, index_name)) }}{% endmacro %}
{% macro duckdb__mmh_explode(from_sql, alias, list_expr, value_name, index_name) -%}
select {{ alias }}.*, unnest({{ list_expr }}) as {{ value_name }}, generate_subscripts({{ list_expr }}, 1) as {{ index_name }}
from {{ from_sql }} as {{ alias }}
{%- endmacro %}
{% macro athena__mmh_explode(from_sql, alias, list_expr, value_name, index_name) -%}
select {{ alias }}.*, element_at({{ list_expr }}, exploded.{{ index_name }}) as {{ value_name }}, exploded.{{ index_name }}
from {{ from_sql }} as {{ alias }}
cross join unnest(
    if(coalesce(cardinality({{ list_expr }}), 0) > 0, sequence(1, cardinality({{ list_expr }})), cast(array[] as array(bigint)))
) as exploded ({{ index_name }})
{%- endmacro %}

{#- A value equal for equal tuples of `exprs` (nulls included), for grouping rows by many columns at once:
    DuckDB's 64-bit hash (two different tuples may share it, so use it to find candidates, not to decide), the
    joined text on Athena. -#}
{% macro mmh_row_key(exprs) %}{{ return(adapter.dispatch('mmh_row_key', 'mmhealth')(exprs)) }}{% endmacro %}
{% macro duckdb__mmh_row_key(exprs) %}hash({{ exprs | join(', ') }}){% endmacro %}
{% macro athena__mmh_row_key(exprs) -%}
concat_ws('|', {% for e in exprs %}coalesce(cast({{ e }} as varchar), ''){{ ', ' if not loop.last }}{% endfor %})
{%- endmacro %}

{#- Apply an expression to every element of a list (`var -> expr`). -#}
{% macro mmh_transform(list_expr, var, expr) %}{{ return(adapter.dispatch('mmh_transform', 'mmhealth')(list_expr, var, expr)) }}{% endmacro %}
{% macro duckdb__mmh_transform(list_expr, var, expr) %}list_transform({{ list_expr }}, {{ var }} -> {{ expr }}){% endmacro %}
{% macro athena__mmh_transform(list_expr, var, expr) %}transform({{ list_expr }}, {{ var }} -> {{ expr }}){% endmacro %}

{#- Join a list of strings with a separator. -#}
{% macro mmh_list_join(list_expr, sep) %}{{ return(adapter.dispatch('mmh_list_join', 'mmhealth')(list_expr, sep)) }}{% endmacro %}
{% macro duckdb__mmh_list_join(list_expr, sep) %}array_to_string({{ list_expr }}, '{{ sep }}'){% endmacro %}
{% macro athena__mmh_list_join(list_expr, sep) %}array_join({{ list_expr }}, '{{ sep }}'){% endmacro %}

{#- Value of a map for a key, null when the key is absent (Athena's m[k] raises on a missing key). -#}
{% macro mmh_map_get(map_expr, key) %}{{ return(adapter.dispatch('mmh_map_get', 'mmhealth')(map_expr, key)) }}{% endmacro %}
{% macro duckdb__mmh_map_get(map_expr, key) %}map_extract_value({{ map_expr }}, '{{ key }}'){% endmacro %}
{% macro athena__mmh_map_get(map_expr, key) %}element_at({{ map_expr }}, '{{ key }}'){% endmacro %}

{#- A scalar from a JSON string by JSONPath (HealthLake keeps extensions as JSON strings). -#}
{% macro mmh_json_scalar(json_expr, path) %}{{ return(adapter.dispatch('mmh_json_scalar', 'mmhealth')(json_expr, path)) }}{% endmacro %}
{% macro duckdb__mmh_json_scalar(json_expr, path) %}json_extract_string({{ json_expr }}, '{{ path }}'){% endmacro %}
{% macro athena__mmh_json_scalar(json_expr, path) %}json_extract_scalar({{ json_expr }}, '{{ path }}'){% endmacro %}

{#- Lower-case hex SHA-256 of a string (UTF-8). -#}
{% macro mmh_sha256(expr) %}{{ return(adapter.dispatch('mmh_sha256', 'mmhealth')(expr)) }}{% endmacro %}
{% macro duckdb__mmh_sha256(expr) %}sha256({{ expr }}){% endmacro %}
{% macro athena__mmh_sha256(expr) %}lower(to_hex(sha256(to_utf8({{ expr }})))){% endmacro %}

{#- Continuous percentile of a numeric expression (aggregate). Athena only has the approximate one. -#}
{% macro mmh_percentile(expr, p) %}{{ return(adapter.dispatch('mmh_percentile', 'mmhealth')(expr, p)) }}{% endmacro %}
{% macro duckdb__mmh_percentile(expr, p) %}quantile_cont({{ expr }}, {{ p }}){% endmacro %}
{% macro athena__mmh_percentile(expr, p) %}approx_percentile({{ expr }}, {{ p }}){% endmacro %}

{#- A date plus a number of days, as a DATE on both engines (DuckDB's date_add returns a TIMESTAMP). -#}
{% macro mmh_add_days(date_expr, days) %}{{ return(adapter.dispatch('mmh_add_days', 'mmhealth')(date_expr, days)) }}{% endmacro %}
{% macro duckdb__mmh_add_days(date_expr, days) %}cast({{ date_expr }} + to_days(cast({{ days }} as integer)) as date){% endmacro %}
{% macro athena__mmh_add_days(date_expr, days) %}date_add('day', {{ days }}, {{ date_expr }}){% endmacro %}

{#- Whole years between two dates (age), counting a year only once its anniversary has passed. Plain SQL on
    both engines: DuckDB's date_diff('year') counts calendar boundaries, Athena's counts whole years. -#}
{% macro mmh_years_between(start_date, end_date) -%}
(year({{ end_date }}) - year({{ start_date }})
    - case when month({{ end_date }}) < month({{ start_date }})
             or (month({{ end_date }}) = month({{ start_date }}) and day({{ end_date }}) < day({{ start_date }}))
           then 1 else 0 end)
{%- endmacro %}

{#- The SQL type of a list of `element_type` (for typed lists in staging). -#}
{% macro mmh_list_type(element_type) %}{{ return(adapter.dispatch('mmh_list_type', 'mmhealth')(element_type)) }}{% endmacro %}
{% macro duckdb__mmh_list_type(element_type) %}{{ element_type }}[]{% endmacro %}
{% macro athena__mmh_list_type(element_type) %}array({{ element_type }}){% endmacro %}

{#- Whether the catalog may be read while rendering. DuckDB: always (a local file). Athena: not when dbt was started
    with --no-populate-cache, the offline compile CI uses (`dbt compile --target athena --no-populate-cache` then needs
    no AWS at all: sources are assumed complete, incremental facts compile as full builds). -#}
{% macro mmh_catalog_readable() %}{{ return(adapter.dispatch('mmh_catalog_readable', 'mmhealth')()) }}{% endmacro %}
{% macro duckdb__mmh_catalog_readable() %}{{ return(true) }}{% endmacro %}
{% macro athena__mmh_catalog_readable() %}{{ return('--no-populate-cache' not in (flags.INVOCATION_COMMAND or '')) }}{% endmacro %}

{#- The pseudonym key as a relation of one row and one column `key_hex` (the key's hex text), named by where the key
    is kept - never by its value, which therefore reaches no compiled SQL, artifact, log or query history.
    DuckDB: the key file (`mmhealth key init`; env MMHEALTH_PSEUDONYM_KEY_FILE, default
    ~/.config/mmhealth/pseudonym.key) read when the query runs; a missing, empty or malformed file stops the query
    with the fix, where it would otherwise read as no row and null every key. Athena: the one-row table
    `pseudonym_key_database`.`pseudonym_key_table` (vars) in a database Lake Formation grants to the dbt role only;
    the data test pseudonym_key_is_usable stops the build before any mart if it does not hold one well-formed key.
    The path is a location, not a secret: it may appear in the SQL. -#}
{% macro mmh_pseudonym_key_relation() %}{{ return(adapter.dispatch('mmh_pseudonym_key_relation', 'mmhealth')()) }}{% endmacro %}
{% macro duckdb__mmh_pseudonym_key_relation() -%}
{%- set path = (env_var('MMHEALTH_PSEUDONYM_KEY_FILE', '') or '~/.config/mmhealth/pseudonym.key') | replace("'", "''") -%}
(select case when count(*) = 1 and regexp_full_match(min(key_file.key_hex), '[0-9a-fA-F]{32,}') then min(key_file.key_hex)
             else error('pseudonym key file {{ path }} is missing or holds no key (32+ hex characters) - create it with `mmhealth key init`, or point MMHEALTH_PSEUDONYM_KEY_FILE at it (docs/governance.md)') end as key_hex
 from (select trim(content, E' \t\r\n') as key_hex from read_text('{{ path }}')) as key_file)
{%- endmacro %}
{% macro athena__mmh_pseudonym_key_relation() -%}
"{{ target.database }}"."{{ var('pseudonym_key_database') }}"."{{ var('pseudonym_key_table') }}"
{%- endmacro %}

{#- SQL written twice, once per engine, by a compiler with its own dialect layer (`mmhealth views compile` writes
    models/views this way): the running engine's text. -#}
{% macro mmh_engine_sql(duckdb_sql, athena_sql) %}{{ return(adapter.dispatch('mmh_engine_sql', 'mmhealth')(duckdb_sql, athena_sql)) }}{% endmacro %}
{% macro duckdb__mmh_engine_sql(duckdb_sql, athena_sql) %}{{ return(duckdb_sql) }}{% endmacro %}
{% macro athena__mmh_engine_sql(duckdb_sql, athena_sql) %}{{ return(athena_sql) }}{% endmacro %}

{#- Whether a text is an integer literal (optional sign, digits only). -#}
{% macro mmh_is_integer_text(text) %}{{ return(adapter.dispatch('mmh_is_integer_text', 'mmhealth')(text)) }}{% endmacro %}
{% macro duckdb__mmh_is_integer_text(text) %}regexp_full_match({{ text }}, '[+-]?[0-9]+'){% endmacro %}
{% macro athena__mmh_is_integer_text(text) %}regexp_like({{ text }}, '^[+-]?[0-9]+$'){% endmacro %}

{#- The partition columns of a big fact table: Athena (Iceberg) partitions it; a DuckDB table has no partitions,
    and dbt-duckdb warns "partitioned_by ... is only supported for DuckLake relations; ignoring" on each build
    when it is given some. Used in config(), so it returns a value instead of SQL. -#}
{% macro mmh_partitioned_by(columns) %}{{ return(adapter.dispatch('mmh_partitioned_by', 'mmhealth')(columns)) }}{% endmacro %}
{% macro athena__mmh_partitioned_by(columns) %}{{ return(columns) }}{% endmacro %}
{% macro duckdb__mmh_partitioned_by(columns) %}{{ return(none) }}{% endmacro %}

{#- The keyword that makes DuckDB compute a CTE once for all the places that read it (`with x as {{ ... }} (...)`):
    a CTE read twice is otherwise planned twice, e.g. an anti-join over a whole FHIR table run once per reader. DuckDB
    still pushes a filter all readers share into it. Trino has no such keyword and plans each reader on its own. -#}
{% macro mmh_materialized_cte() %}{{ return(adapter.dispatch('mmh_materialized_cte', 'mmhealth')()) }}{% endmacro %}
{% macro duckdb__mmh_materialized_cte() %}materialized{% endmacro %}
{% macro athena__mmh_materialized_cte() %}{% endmacro %}
