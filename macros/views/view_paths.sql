{#- Support for the models `mmhealth views compile` generates from SQL-on-FHIR ViewDefinitions (models/views).
    A generated model reads every FHIR element through `mmh_view_has`: the element or, when this lake's table lacks
    it, a typed null. Unlike mmh_has_path (which looks for a field name anywhere in the column's type), it follows
    the path level by level, so `item.item.item` is present only when the third level exists. -#}

{#- The top-level fields of a struct type as the catalog spells it, list wrappers peeled off:
    DuckDB `struct(a varchar, "b" struct(c bigint)[])[]`, Glue `array<struct<a:string,b:array<struct<c:bigint>>>>`,
    Trino `array(row(a varchar, b ...))`. Returns {lower name: type text}; {} for a non-struct. -#}
{% macro mmh_type_fields(type_text) %}
  {%- set ns = namespace(t=(type_text or '') | trim | lower) -%}
  {%- for _ in range(12) -%}
    {%- if ns.t.endswith('[]') -%}{%- set ns.t = ns.t[:-2] | trim -%}
    {%- elif ns.t.startswith('array<') or ns.t.startswith('array(') -%}{%- set ns.t = ns.t[6:-1] | trim -%}
    {%- endif -%}
  {%- endfor -%}
  {%- if ns.t.startswith('struct(') or ns.t.startswith('struct<') -%}{%- set body = ns.t[7:-1] -%}
  {%- elif ns.t.startswith('row(') -%}{%- set body = ns.t[4:-1] -%}
  {%- else -%}{{ return({}) }}
  {%- endif -%}
  {%- set st = namespace(depth=0, cur='', parts=[]) -%}
  {%- for ch in body -%}
    {%- if ch in '(<[' -%}{%- set st.depth = st.depth + 1 -%}{%- set st.cur = st.cur ~ ch -%}
    {%- elif ch in ')>]' -%}{%- set st.depth = st.depth - 1 -%}{%- set st.cur = st.cur ~ ch -%}
    {%- elif ch == ',' and st.depth == 0 -%}{%- do st.parts.append(st.cur) -%}{%- set st.cur = '' -%}
    {%- else -%}{%- set st.cur = st.cur ~ ch -%}
    {%- endif -%}
  {%- endfor -%}
  {%- do st.parts.append(st.cur) -%}
  {%- set fields = {} -%}
  {%- for part in st.parts -%}
    {%- set p = part | trim -%}
    {%- if p.startswith('"') -%}
      {%- set close = p[1:].find('"') + 1 -%}
      {%- set name = p[1:close] -%}{%- set rest = p[close + 1:] -%}
    {%- else -%}
      {%- set m = modules.re.match('^([^\\s:]+)', p) -%}
      {%- set name = m.group(1) if m else p -%}{%- set rest = p[name | length:] -%}
    {%- endif -%}
    {%- do fields.update({name: rest | trim | replace(':', '', 1) | trim}) -%}
  {%- endfor -%}
  {{ return(fields) }}
{% endmacro %}

{#- True when the dotted lake path (`name.given`, `item.item.linkid`) exists in the columns mmh_source_columns
    returned ('all' when the catalog is not read: everything is assumed present, as for the staging models). -#}
{% macro mmh_view_has(columns, path) %}
  {%- if columns == 'all' -%}{{ return(true) }}{%- endif -%}
  {%- if columns is none -%}{{ return(false) }}{%- endif -%}
  {%- set parts = path.lower().split('.') -%}
  {%- if parts[0] not in columns -%}{{ return(false) }}{%- endif -%}
  {%- set ns = namespace(t=columns[parts[0]], ok=true) -%}
  {%- for part in parts[1:] -%}
    {%- if ns.ok -%}
      {%- set fields = mmh_type_fields(ns.t) -%}
      {%- if part in fields -%}{%- set ns.t = fields[part] -%}{%- else -%}{%- set ns.ok = false -%}{%- endif -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(ns.ok) }}
{% endmacro %}

{#- A HealthLake table models/sources/sources.yml does not declare, addressed where the sources are. -#}
{% macro mmh_view_relation(table) %}
  {%- set database = var('lake_catalog') or ('lake' if target.type == 'duckdb' else target.database) -%}
  {%- if not execute or var('offline_catalog', false) or not mmh_catalog_readable() -%}
    {{ return(api.Relation.create(database=database, schema=var('healthlake_schema'), identifier=table)) }}
  {%- endif -%}
  {{ return(adapter.get_relation(database=database, schema=var('healthlake_schema'), identifier=table)) }}
{% endmacro %}
