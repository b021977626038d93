{#- Stand-ins for linting only (sqlfluff's jinja templater cannot run adapter.dispatch): each dispatching macro of
    macros/engine/dispatch.sql calls its athena__ implementation, which sqlfluff loads from that file. Linting
    therefore checks the SQL as Athena receives it. tests/dbt/test_lint.py checks this file covers every
    dispatching macro. -#}
{% macro mmh_timestamp(expr) %}{{ athena__mmh_timestamp(expr) }}{% endmacro %}
{% macro mmh_timestamp_type() %}{{ athena__mmh_timestamp_type() }}{% endmacro %}
{% macro mmh_first(list_expr) %}{{ athena__mmh_first(list_expr) }}{% endmacro %}
{% macro mmh_element(list_expr, i) %}{{ athena__mmh_element(list_expr, i) }}{% endmacro %}
{% macro mmh_filter(list_expr, var, predicate) %}{{ athena__mmh_filter(list_expr, var, predicate) }}{% endmacro %}
{% macro mmh_row_key(exprs) %}{{ athena__mmh_row_key(exprs) }}{% endmacro %}
{% macro mmh_transform(list_expr, var, expr) %}{{ athena__mmh_transform(list_expr, var, expr) }}{% endmacro %}
{% macro mmh_length(list_expr) %}{{ athena__mmh_length(list_expr) }}{% endmacro %}
{% macro mmh_explode(from_sql, alias, list_expr, value_name, index_name) %}{{ athena__mmh_explode(from_sql, alias, list_expr, value_name, index_name) }}{% endmacro %}
{% macro mmh_list_join(list_expr, sep) %}{{ athena__mmh_list_join(list_expr, sep) }}{% endmacro %}
{% macro mmh_map_get(map_expr, key) %}{{ athena__mmh_map_get(map_expr, key) }}{% endmacro %}
{% macro mmh_json_scalar(json_expr, path) %}{{ athena__mmh_json_scalar(json_expr, path) }}{% endmacro %}
{% macro mmh_sha256(expr) %}{{ athena__mmh_sha256(expr) }}{% endmacro %}
{% macro mmh_percentile(expr, p) %}{{ athena__mmh_percentile(expr, p) }}{% endmacro %}
{% macro mmh_add_days(date_expr, days) %}{{ athena__mmh_add_days(date_expr, days) }}{% endmacro %}
{% macro mmh_list_type(element_type) %}{{ athena__mmh_list_type(element_type) }}{% endmacro %}
{% macro mmh_catalog_readable() %}{{ athena__mmh_catalog_readable() }}{% endmacro %}
{% macro mmh_pseudonym_key_relation() %}{{ athena__mmh_pseudonym_key_relation() }}{% endmacro %}
{% macro mmh_engine_sql(duckdb_sql, athena_sql) %}{{ athena__mmh_engine_sql(duckdb_sql, athena_sql) }}{% endmacro %}
{% macro mmh_is_integer_text(text) %}{{ athena__mmh_is_integer_text(text) }}{% endmacro %}
{% macro mmh_try_cast(expr, type) %}{{ default__mmh_try_cast(expr, type) }}{% endmacro %}
{% macro mmh_partitioned_by(columns) %}{{ athena__mmh_partitioned_by(columns) }}{% endmacro %}
{% macro mmh_insert_or_merge_strategy() %}{{ athena__mmh_insert_or_merge_strategy() }}{% endmacro %}
{% macro mmh_materialized_cte() %}{{ athena__mmh_materialized_cte() }}{% endmacro %}
