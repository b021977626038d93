{#- Saved query `modality_coverage`, materialized: patients in total and with each modality (one row). -#}
{{ config(contract={'enforced': true}) }}

with counts as (
    select
        count(distinct patient_key) as n_patients,
        count(distinct case when has_clinical then patient_key end) as n_clinical,
        count(distinct case when has_genomics then patient_key end) as n_genomics,
        count(distinct case when has_imaging then patient_key end) as n_imaging
    from {{ ref('patient_360') }}
)

select
    cast({{ suppress('n_patients') }} as bigint) as patient_count,
    cast({{ suppress('n_clinical') }} as bigint) as patients_with_clinical,
    cast({{ suppress('n_genomics') }} as bigint) as patients_with_genomics,
    cast({{ suppress('n_imaging') }} as bigint) as patients_with_imaging,
    cast(
        {{ is_small_cell('n_patients') }} or {{ is_small_cell('n_clinical') }}
        or {{ is_small_cell('n_genomics') }} or {{ is_small_cell('n_imaging') }}
        as boolean
    ) as is_suppressed
from counts
