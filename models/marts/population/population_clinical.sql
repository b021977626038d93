{#- What the Clinical sheet of the population dashboard shows, one row per (section, dimension, category):
    demographics (sex, age band, race, ethnicity, state, deceased), encounters by class, diagnoses, procedures,
    claims by type, and the cardiovascular outcomes. Small-cell suppression: counts from 1 to
    small_cell_threshold - 1 are nulled and the row flagged. -#}
with patients as (
    select * from {{ ref('dim_patient') }} where has_clinical
),

counts as (
    select 'demographics' as section, 'sex' as dimension, coalesce(gender, 'unknown') as category,
        cast(null as varchar) as category_label, count(*) as patient_count, count(*) as event_count,
        cast(null as double) as total_amount
    from patients group by coalesce(gender, 'unknown')
    union all
    select 'demographics', 'age_band',
        coalesce(case when age_years >= 90 then '90+'
                      else cast(cast(floor(age_years / 10) * 10 as integer) as varchar) || '-'
                           || cast(cast(floor(age_years / 10) * 10 + 9 as integer) as varchar) end, 'unknown'),
        null, count(*), count(*), null
    from patients
    group by coalesce(case when age_years >= 90 then '90+'
                      else cast(cast(floor(age_years / 10) * 10 as integer) as varchar) || '-'
                           || cast(cast(floor(age_years / 10) * 10 + 9 as integer) as varchar) end, 'unknown')
    union all
    select 'demographics', 'race', coalesce(race, 'unknown'), null, count(*), count(*), null
    from patients group by coalesce(race, 'unknown')
    union all
    select 'demographics', 'ethnicity', coalesce(ethnicity, 'unknown'), null, count(*), count(*), null
    from patients group by coalesce(ethnicity, 'unknown')
    union all
    select 'demographics', 'state', coalesce(address_state, 'unknown'), null, count(*), count(*), null
    from patients group by coalesce(address_state, 'unknown')
    union all
    select 'demographics', 'deceased', case when is_deceased then 'deceased' else 'alive' end, null,
        count(*), count(*), null
    from patients group by case when is_deceased then 'deceased' else 'alive' end
    union all
    select 'encounters', 'encounter_class', coalesce(encounter_class, 'unknown'), null,
        count(distinct patient_key), count(*), null
    from {{ ref('fct_encounter') }} group by coalesce(encounter_class, 'unknown')
    union all
    select 'diagnoses', 'condition_code', coalesce(condition_code, 'unknown'), max(condition_display),
        count(distinct patient_key), count(*), null
    from {{ ref('fct_condition') }} group by coalesce(condition_code, 'unknown')
    union all
    select 'outcomes', 'condition_group', condition_group, null, count(distinct patient_key), count(*), null
    from {{ ref('fct_condition') }} where condition_group is not null group by condition_group
    union all
    select 'procedures', 'procedure_code', coalesce(procedure_code, 'unknown'), max(procedure_display),
        count(distinct patient_key), count(*), null
    from {{ ref('fct_procedure') }} group by coalesce(procedure_code, 'unknown')
    union all
    select 'claims', 'claim_type', coalesce(claim_type, 'unknown'), null, count(distinct patient_key), count(*),
        sum(total_amount)
    from {{ ref('fct_claim') }} group by coalesce(claim_type, 'unknown')
)

select
    cast(section as varchar) as section,
    cast(dimension as varchar) as dimension,
    cast(category as varchar) as category,
    cast(category_label as varchar) as category_label,
    cast({{ suppress('patient_count') }} as bigint) as patient_count,
    cast(case when {{ is_small_cell('patient_count') }} then null else event_count end as bigint) as event_count,
    cast(case when {{ is_small_cell('patient_count') }} then null else total_amount end as double) as total_amount,
    cast({{ is_small_cell('patient_count') }} as boolean) as is_suppressed
from counts
