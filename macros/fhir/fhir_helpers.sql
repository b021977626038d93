{#- FHIR value helpers, written once in SQL both engines share (only list/map primitives are dispatched). -#}

{#- The id a FHIR reference points at. Accepts `Patient/<id>`, `urn:uuid:<id>` (transaction bundles), a bare
    id, absolute URLs (`https://host/fhir/Patient/<id>`) and versioned ones (`Patient/<id>/_history/2`).
    With `resource_type`, a typed reference to another type (`Group/7` for a Patient) yields null. -#}
{% macro fhir_reference_id(ref_expr, resource_type=none) -%}
case
    when {{ ref_expr }} is null or trim({{ ref_expr }}) = '' then null
    when {{ ref_expr }} like 'urn:uuid:%' then substr({{ ref_expr }}, 10)
    when {{ ref_expr }} like 'urn:oid:%' then substr({{ ref_expr }}, 9)
    when strpos({{ ref_expr }}, '/') = 0 then {{ ref_expr }}
    {%- if resource_type %}
    when regexp_extract({{ ref_expr }}, '([A-Za-z]+)/([^/]+)(/_history/[^/]+)?$', 1) <> '{{ resource_type }}' then null
    {%- endif %}
    else regexp_extract({{ ref_expr }}, '([A-Za-z]+)/([^/]+)(/_history/[^/]+)?$', 2)
end
{%- endmacro %}

{#- The first coding of a CodeableConcept whose system is `system` (any system when none), as the struct. -#}
{% macro fhir_coding(cc_expr, system=none) -%}
{%- if system -%}
{{ mmh_first(mmh_filter(cc_expr ~ '.coding', 'c', "c.system = '" ~ system ~ "'")) }}
{%- else -%}
{{ mmh_first(cc_expr ~ '.coding') }}
{%- endif -%}
{%- endmacro %}

{#- Code / display of the coding with a given system. -#}
{% macro fhir_code(cc_expr, system=none) -%}
({{ fhir_coding(cc_expr, fhir_system(system) if system else none) }}).code
{%- endmacro %}
{% macro fhir_display(cc_expr, system=none) -%}
coalesce(({{ fhir_coding(cc_expr, fhir_system(system) if system else none) }}).display, {{ cc_expr }}.text)
{%- endmacro %}

{#- A value of a US Core extension (JSON strings in the HealthLake view), e.g. race text. -#}
{% macro fhir_extension_value(ext_list_expr, url, json_path) -%}
{{ mmh_json_scalar(mmh_first(mmh_filter(ext_list_expr, 'e', mmh_json_scalar('e', '$.url') ~ " = '" ~ url ~ "'")), json_path) }}
{%- endmacro %}

{#- US Core race / ethnicity: the OMB category display, else the free-text sub-extension. -#}
{% macro us_core_category(ext_list_expr, url) -%}
coalesce(
    {{ fhir_extension_value(ext_list_expr, url, '$.extension[0].valueCoding.display') }},
    {{ fhir_extension_value(ext_list_expr, url, '$.extension[1].valueString') }},
    {{ fhir_extension_value(ext_list_expr, url, '$.extension[0].valueString') }}
)
{%- endmacro %}
