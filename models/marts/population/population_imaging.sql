{#- What the Imaging sheet shows: the distribution of each radiomic feature per modality over image sets with
    radiomics - count, mean, standard deviation and percentiles (no minimum or maximum: those are single
    patients' values). Only masks of the lesion segmenter count: features of a whole-foreground fallback mask
    (segmentation_fallback_reason set) describe another structure and would mix two populations. Groups with fewer than small_cell_threshold patients are nulled and flagged. -#}
{%- set features = ['mask_volume_mm3'] + radiomics_features() -%}
with radiomics as (
    select * from {{ ref('fct_radiomics') }} where has_radiomics and segmentation_fallback_reason is null
),

long as (
    {%- for f in features %}
    select coalesce(modality, 'unknown') as modality, '{{ f }}' as feature_name, patient_key, {{ f }} as feature_value
    from radiomics
    {{ "union all" if not loop.last }}
    {%- endfor %}
),

stats as (
    select
        modality,
        feature_name,
        count(feature_value) as n_image_sets,
        count(distinct case when feature_value is not null then patient_key end) as n_patients,
        avg(feature_value) as mean_value,
        stddev_samp(feature_value) as stddev_value,
        {{ mmh_percentile('feature_value', 0.10) }} as p10_value,
        {{ mmh_percentile('feature_value', 0.25) }} as p25_value,
        {{ mmh_percentile('feature_value', 0.50) }} as median_value,
        {{ mmh_percentile('feature_value', 0.75) }} as p75_value,
        {{ mmh_percentile('feature_value', 0.90) }} as p90_value
    from long
    group by modality, feature_name
)

select
    cast(modality as varchar) as modality,
    cast(feature_name as varchar) as feature_name,
    cast({{ suppress('n_patients') }} as bigint) as n_patients,
    cast(case when {{ is_small_cell('n_patients') }} then null else n_image_sets end as bigint) as n_image_sets,
    {%- for col in ['mean_value', 'stddev_value', 'p10_value', 'p25_value', 'median_value', 'p75_value', 'p90_value'] %}
    cast(case when {{ is_small_cell('n_patients') }} then null else {{ col }} end as double) as {{ col }},
    {%- endfor %}
    cast({{ is_small_cell('n_patients') }} as boolean) as is_suppressed
from stats
