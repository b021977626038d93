{#- One row per segmented image set: mask volume, segmentation method, and the pyradiomics features the marts
    use (names as pyradiomics gives them, lower-cased: original_<class>_<feature>). -#}
{%- set features = radiomics_features() -%}
{%- set specs = [
    {'name': 'image_set_id', 'expr': 'r.imagesetid', 'type': 'varchar', 'needs': ['imagesetid']},
    {'name': 'mask_volume_mm3', 'expr': 'r.mask_volume_mm3', 'type': 'double', 'needs': ['mask_volume_mm3']},
    {'name': 'segmentation_method', 'expr': 'r.segmentation_method', 'type': 'varchar', 'needs': ['segmentation_method']},
    {'name': 'segmentation_version', 'expr': 'r.segmentation_version', 'type': 'varchar', 'needs': ['segmentation_version']},
    {'name': 'segmentation_fallback_reason', 'expr': 'r.segmentation_fallback_reason', 'type': 'varchar', 'needs': ['segmentation_fallback_reason']},
    {'name': 'geometry_status', 'expr': 'r.geometry_status', 'type': 'varchar', 'needs': ['geometry_status']},
] -%}
{%- for f in features %}
  {%- set short = f[9:] if f.startswith('original_') else f %}
  {%- do specs.append({'name': f, 'type': 'double', 'candidates': [
        {'expr': 'r.' ~ f, 'needs': [f]}, {'expr': 'r.' ~ short, 'needs': [short]}]}) %}
{%- endfor -%}
with source as (
{{ mmh_select_source(source('imaging', 'radiomics'), specs) }}
)

select * from source
where image_set_id is not null
