{#-
  Sparse sources. Real FHIR is sparse: a HealthLake data store has a table only for the resource types it holds,
  and a column only for elements some resource carries. Staging models therefore declare their columns as data
  (name, expression, type, the source paths the expression needs) and `mmh_select_source` renders either the
  real select or, for what is absent, a typed null / a typed empty result with a comment saying why - the way
  google/fhir-dbt-analytics keeps sparse data stores building.
-#}

{#- Render `select <columns> from <relation>` for column specs
      {'name': ..., 'expr': sql over the source's columns, 'type': portable type, 'needs': [paths]}
    or {'name': ..., 'type': ..., 'candidates': [{'expr': ..., 'needs': [...]}, ...]} (first present wins).
    A column whose paths are absent becomes a typed null; an absent relation becomes a typed empty result.
    `safe_types`: numbers and booleans are typed with mmh_try_cast (typing.sql), so a value of the wrong type is null
    instead of an error - for FHIR, whose JSON types the lake does not enforce.
    `current_only`: FHIR resources, of which only the current version of each id is read (versions.sql). -#}
{% macro mmh_select_source(relation, specs, alias='r', current_only=false, safe_types=false) %}
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
    {%- elif safe_types and s.type in mmh_checked_types() %}
  {{ mmh_try_cast(chosen[0], s.type) }} as {{ s.name }}{{ "," if not loop.last }}
    {%- else %}
  {{ mmh_cast(chosen[0], s.type) }} as {{ s.name }}{{ "," if not loop.last }}
    {%- endif %}
  {%- endfor %}
from {{ relation }} as {{ alias }}
    {%- if current_only %}
where {{ mmh_current_version(relation, columns, alias) }}
    {%- endif %}
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
