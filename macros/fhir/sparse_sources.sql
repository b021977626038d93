{#-
  Sparse sources. Real FHIR is sparse: a HealthLake data store has a table only for the resource types it holds,
  and a column only for elements some resource carries. Staging models therefore declare their columns as data
  (name, expression, type, the source paths the expression needs) and `mmh_select_source` renders either the
  real select or, for what is absent, a typed null / a typed empty result with a comment saying why - the way
  google/fhir-dbt-analytics keeps sparse data stores building.
-#}

{#- Columns of a relation as {lower name: lower type string}; none when the relation does not exist.
    Returns the string 'all' when the catalog is not read: at parse time, under `assume_complete_sources`
    (compiling for Athena without AWS), and inside dbt unit tests (inputs are CTEs, the fixtures carry the columns). -#}
{% macro mmh_source_columns(relation) %}
  {% if not execute or var('assume_complete_sources', false) %}{{ return('all') }}{% endif %}
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

{#- Render `select <columns> from <relation>` for column specs
      {'name': ..., 'expr': sql over the source's columns, 'type': portable type, 'needs': [paths]}
    or {'name': ..., 'type': ..., 'candidates': [{'expr': ..., 'needs': [...]}, ...]} (first present wins).
    A column whose paths are absent becomes a typed null; an absent relation becomes a typed empty result. -#}
{% macro mmh_select_source(relation, specs, alias='r') %}
  {%- set columns = mmh_source_columns(relation) -%}
  {%- if columns is none %}
-- {{ relation }} does not exist in this lake: typed empty result so downstream models still build.
select
  {%- for s in specs %}
  {{ mmh_cast('null', s.type) }} as {{ s.name }}{{ "," if not loop.last }}
  {%- endfor %}
where 1 = 0
  {%- else %}
select
  {%- for s in specs %}
    {#- a spec is one expression, or `candidates`: the first whose paths are all present wins -#}
    {%- set candidates = s.get('candidates', [{'expr': s.get('expr'), 'needs': s.get('needs', [])}]) %}
    {%- set chosen = [] %}
    {%- for c in candidates %}
      {%- set missing = [] %}
      {%- for p in c.get('needs', []) %}{% if not mmh_has_path(columns, p) %}{% do missing.append(p) %}{% endif %}{% endfor %}
      {%- if not missing and not chosen %}{% do chosen.append(c.expr) %}{% endif %}
    {%- endfor %}
    {%- if not chosen %}
  {{ mmh_cast('null', s.type) }} as {{ s.name }}{{ "," if not loop.last }}  -- absent in this lake: {{ candidates | map(attribute='needs') | map('join', '+') | join(' / ') }}
    {%- else %}
  {{ mmh_cast(chosen[0], s.type) }} as {{ s.name }}{{ "," if not loop.last }}
    {%- endif %}
  {%- endfor %}
from {{ relation }} as {{ alias }}
  {%- endif %}
{% endmacro %}

{#- Whether a source relation exists (for models that union optional sources). -#}
{% macro mmh_source_exists(relation) %}
  {{ return(mmh_source_columns(relation) is not none) }}
{% endmacro %}

{#- A typed empty result for column specs, with the reason as a comment. -#}
{% macro mmh_empty_result(specs, reason) %}
-- {{ reason }}: typed empty result so downstream models still build.
select
  {%- for s in specs %}
  {{ mmh_cast('null', s.type) }} as {{ s.name }}{{ "," if not loop.last }}
  {%- endfor %}
where 1 = 0
{% endmacro %}
