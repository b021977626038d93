{#- The index date of each patient for features_cardiovascular: the date of the patient's last encounter on or
    before the cutoff var `cv_cutoff_date`. It depends only on information up to the cutoff, so no later event
    can move it. Patients without such an encounter, or dead by the index date, have no index date (excluded).
    The label window is (index_date, index_date + label_horizon_days]. Grain: one row per eligible patient. -#}
with last_visit as (
    select
        patient_id,
        max(cast(started_at as date)) as index_date
    from {{ ref('stg_fhir__encounter') }}
    where cast(started_at as date) <= cast('{{ var("cv_cutoff_date") }}' as date)
    group by patient_id
)

select
    v.patient_id,
    v.index_date,
    {{ mmh_add_days('v.index_date', var('label_horizon_days')) }} as label_window_end_date,
    {{ mmh_add_days('v.index_date', '-' ~ var('feature_lookback_days')) }} as lookback_start_date
from last_visit as v
inner join {{ ref('stg_fhir__patient') }} as p on v.patient_id = p.patient_id
where p.birth_date <= v.index_date
    and (p.deceased_at is null or cast(p.deceased_at as date) > v.index_date)
