{#- What the lake's catalog holds, read at run time (see sparse_sources.sql for how models use it). Kept in its own
    file: macros that return values are called across files, which also lets the sqlfluff jinja templater resolve
    them (.sqlfluff). -#}

{#- Columns of a relation as {lower name: lower type string}; none when the relation does not exist.
    Returns the string 'all' when the catalog is not read: at parse time, under `offline_catalog` or an Athena
    compile with --no-populate-cache (macro mmh_catalog_readable; no AWS needed), and inside dbt unit tests (inputs are CTEs, the fixtures carry the columns). -#}
{% macro mmh_source_columns(relation) %}
  {% if not execute or var('offline_catalog', false) or not mmh_catalog_readable() %}{{ return('all') }}{% endif %}
  {% if (relation.identifier or '').startswith('__dbt__cte__') %}{{ return('all') }}{% endif %}
  {% set found = adapter.get_relation(database=relation.database, schema=relation.schema, identifier=relation.identifier) %}
  {% if found is none %}{{ return(none) }}{% endif %}
  {% set cols = {} %}
  {% for c in adapter.get_columns_in_relation(found) %}
    {% do cols.update({c.name | lower: (c.data_type | lower)}) %}
  {% endfor %}
  {{ return(cols) }}
{% endmacro %}

{#- True when every dotted path (`code.coding`, `valuequantity.value`) exists in the columns: the first part is a
    column, later parts are field names found in its (nested) type string. -#}
{% macro mmh_has_path(columns, path) %}
  {% if columns == 'all' %}{{ return(true) }}{% endif %}
  {% if columns is none %}{{ return(false) }}{% endif %}
  {% set parts = path.lower().split('.') %}
  {% if parts[0] not in columns %}{{ return(false) }}{% endif %}
  {% set type_text = columns[parts[0]] %}
  {% for part in parts[1:] %}
    {#- a struct field appears as `name TYPE` (DuckDB) or `name:type` (Glue/Athena), optionally quoted -#}
    {% set pattern = '(^|[(<,\\s])"?' ~ modules.re.escape(part) ~ '"?[\\s:]' %}
    {% if not modules.re.search(pattern, type_text) %}{{ return(false) }}{% endif %}
  {% endfor %}
  {{ return(true) }}
{% endmacro %}

