{#- The index date of each patient for features_cardiovascular: the date of the patient's last encounter on or
    before the index cutoff of int_cv_data_end (placed from the lake's data end, or fixed by var
    `cv_index_cutoff_date`). It depends only on information up to the cutoff, so no later event can move it.
    Patients without such an encounter, or dead by the index date, have no index date (excluded).
    The label window is (index_date, index_date + label_horizon_days]; it is fully observed when it ends on or
    before the data end. Grain: one row per eligible patient.
    Reads the encounter fact and the patient dimension (tables a scheduled run has already updated) rather than the
    staging views, which would parse every Encounter resource of the lake again. -#}
with cutoff as (
    select data_end_date, index_cutoff_date from {{ ref('int_cv_data_end') }}
),

last_visit as (
    select
        e.patient_key,
        max(e.encounter_date) as index_date
    from {{ ref('fct_encounter') }} as e
    cross join cutoff as c
    where e.encounter_date <= c.index_cutoff_date and e.patient_key is not null
    group by e.patient_key
),

windows as (
    select
        p.patient_id,
        v.patient_key,
        v.index_date,
        {{ mmh_add_days('v.index_date', var('label_horizon_days')) }} as label_window_end_date,
        {{ mmh_add_days('v.index_date', '-' ~ var('feature_lookback_days')) }} as lookback_start_date
    from last_visit as v
    inner join {{ ref('dim_patient') }} as p on v.patient_key = p.patient_key
    where p.birth_date <= v.index_date
        and (p.deceased_date is null or p.deceased_date > v.index_date)
)

select
    w.patient_id,
    w.patient_key,
    w.index_date,
    w.label_window_end_date,
    w.lookback_start_date,
    c.data_end_date,
    coalesce(w.label_window_end_date <= c.data_end_date, false) as label_window_observed
from windows as w
cross join cutoff as c
