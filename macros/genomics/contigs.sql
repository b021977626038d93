{#- Contig name without the `chr` prefix, `M` for mitochondria: `chr1` and `1` compare equal. -#}
{% macro normalize_contig(expr) -%}
case
    when upper({{ expr }}) in ('CHRM', 'CHRMT', 'MT', 'M') then 'M'
    when lower({{ expr }}) like 'chr%' then upper(substr({{ expr }}, 4))
    else upper({{ expr }})
end
{%- endmacro %}
