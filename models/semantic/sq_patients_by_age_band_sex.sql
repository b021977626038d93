{#- Saved query `patients_by_age_band_sex`, materialized: patients per age band and sex (the Clinical sheet's
    population pyramid). Counts of 1 to small_cell_threshold - 1 are nulled and flagged. -#}
{{ config(contract={'enforced': true}) }}

with patients as (
    select
        coalesce(case when age_years >= 90 then '90+'
            else cast(cast(floor(age_years / 10) * 10 as integer) as varchar) || '-'
                 || cast(cast(floor(age_years / 10) * 10 + 9 as integer) as varchar) end, 'unknown') as age_band,
        coalesce(gender, 'unknown') as sex,
        patient_key
    from {{ ref('patient_360') }}
),

counts as (
    select
        age_band,
        sex,
        count(distinct patient_key) as n_patients
    from patients
    group by age_band, sex
)

select
    cast(age_band as varchar) as age_band,
    cast(sex as varchar) as sex,
    cast({{ suppress('n_patients') }} as bigint) as patient_count,
    cast({{ is_small_cell('n_patients') }} as boolean) as is_suppressed
from counts
