{#- Saved query `outcomes_by_sex`, materialized: per sex, all patients, patients ever diagnosed with each
    cardiovascular outcome, its prevalence (patients with it / all patients), and encounters per patient.
    A suppressed count also nulls the ratios built on it, which would otherwise give it back. -#}
{{ config(contract={'enforced': true}) }}

{%- set outcomes = ['stroke', 'hypertension', 'coronary_heart_disease', 'alzheimers'] -%}
with patients as (
    select
        patient_key,
        coalesce(gender, 'unknown') as sex
    from {{ ref('patient_360') }}
),

by_sex as (
    select
        sex,
        count(distinct patient_key) as n_patients
    from patients
    group by sex
),

-- Facts are joined to patients the way MetricFlow joins them: a fact whose patient is not in patient_360
-- would fall in a null sex group, not in any group shown here.
outcome_patients as (
    select
        p.sex,
        {%- for o in outcomes %}
        count(distinct case when c.condition_group = '{{ o }}' then c.patient_key end) as n_{{ o }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ ref('fct_condition') }} as c
    inner join patients as p on c.patient_key = p.patient_key
    group by p.sex
),

encounters as (
    select
        p.sex,
        count(e.encounter_id) as n_encounters
    from {{ ref('fct_encounter') }} as e
    inner join patients as p on e.patient_key = p.patient_key
    group by p.sex
),

joined as (
    select
        s.sex,
        s.n_patients,
        coalesce(e.n_encounters, 0) as n_encounters,
        {%- for o in outcomes %}
        coalesce(o.n_{{ o }}, 0) as n_{{ o }}{{ "," if not loop.last }}
        {%- endfor %}
    from by_sex as s
    left join outcome_patients as o on s.sex = o.sex
    left join encounters as e on s.sex = e.sex
)

select
    cast(sex as varchar) as sex,
    cast({{ suppress('n_patients') }} as bigint) as patient_count,
    {%- for o in outcomes %}
    cast(
        case when {{ is_small_cell('n_patients') }} or {{ is_small_cell('n_' ~ o) }} then null else n_{{ o }} end
        as bigint
    ) as patients_with_{{ o }},
    cast(
        case
            when {{ is_small_cell('n_patients') }} or {{ is_small_cell('n_' ~ o) }} then null
            else cast(n_{{ o }} as double) / n_patients
        end
        as double
    ) as prevalence_{{ o }},
    {%- endfor %}
    cast(
        case when {{ is_small_cell('n_patients') }} then null else cast(n_encounters as double) / n_patients end
        as double
    ) as encounters_per_patient,
    cast(
        {{ is_small_cell('n_patients') }}
        {%- for o in outcomes %}
        or {{ is_small_cell('n_' ~ o) }}
        {%- endfor %}
        as boolean
    ) as is_suppressed
from joined
