{#- Incremental data-test scope. A MERGE only writes the rows of the newest ingest run (see mmh_incremental_filter),
    and the rows already in an incremental fact were tested when they were written, so re-checking whole tables on
    every run costs time in proportion to the history, not to the new data. With
    `--vars '{data_tests_scope: new_rows}'` (the production / CI mode for incremental runs, see docs/dbt.md) every
    data test on an incremental model that carries `source_lake_run` only reads the rows of that table's newest lake
    run, unless the run is a `--full-refresh`. Tests on every other model, every test of a full refresh and every
    test without the var (the default) read whole tables. Set the var on every command of a deployment (also the
    full refreshes): a change of --vars makes dbt re-parse the whole project, which costs more than the tests.
    A first build that is not a --full-refresh tests only the newest lake run of the facts: deploy with a
    --full-refresh first. Tests that compare a row with other rows (unique, relationships) thus compare new rows
    with each other and with their targets; uniqueness against older rows is what the MERGE on the unique key
    guarantees. Overrides dbt's get_where_subquery, which generic tests call to build their `model` argument. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set conditions = [where] if where else [] -%}
    {%- if var('data_tests_scope', 'all') == 'new_rows' and not flags.FULL_REFRESH
          and mmh_is_incremental_with_lake_run(relation) -%}
        {%- do conditions.append('source_lake_run = (select max(source_lake_run) from ' ~ relation ~ ')') -%}
    {%- elif var('data_tests_scope', 'all') not in ['all', 'new_rows'] -%}
        {{ exceptions.raise_compiler_error("var data_tests_scope: '" ~ var('data_tests_scope') ~ "' - use 'all' or 'new_rows'") }}
    {%- endif -%}
    {%- if conditions -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ conditions | join(' and ') ~ ') dbt_subquery') -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{#- True when `relation` is an incremental model of this project whose YAML declares a source_lake_run column. Looked
    up by unique id (models here are named as their relations): every data test calls this, so a scan of the whole
    graph per test would cost more than the tests it scopes. -#}
{% macro mmh_is_incremental_with_lake_run(relation) -%}
    {%- if not execute -%}{%- do return(false) -%}{%- endif -%}
    {%- set node = graph.nodes.get('model.' ~ project_name ~ '.' ~ (relation.identifier | lower)) -%}
    {%- do return(node is not none and node.config.materialized == 'incremental' and 'source_lake_run' in node.columns) -%}
{%- endmacro %}
