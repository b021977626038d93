{#- The index date of each patient for features_cardiovascular: the date of the patient's last encounter on or
    before the index cutoff of int_cv_data_end (placed from the lake's data end, or fixed by var
    `cv_index_cutoff_date`). It depends only on information up to the cutoff, so no later event can move it.
    Patients without such an encounter, or dead by the index date, have no index date (excluded).
    The label window is (index_date, index_date + label_horizon_days]; it is fully observed when it ends on or
    before the data end. Grain: one row per eligible patient. -#}
with cutoff as (
    select data_end_date, index_cutoff_date from {{ ref('int_cv_data_end') }}
),

last_visit as (
    select
        e.patient_id,
        max(cast(e.started_at as date)) as index_date
    from {{ ref('stg_fhir__encounter') }} as e
    cross join cutoff as c
    where cast(e.started_at as date) <= c.index_cutoff_date
    group by e.patient_id
),

windows as (
    select
        v.patient_id,
        v.index_date,
        {{ mmh_add_days('v.index_date', var('label_horizon_days')) }} as label_window_end_date,
        {{ mmh_add_days('v.index_date', '-' ~ var('feature_lookback_days')) }} as lookback_start_date
    from last_visit as v
    inner join {{ ref('stg_fhir__patient') }} as p on v.patient_id = p.patient_id
    where p.birth_date <= v.index_date
        and (p.deceased_at is null or cast(p.deceased_at as date) > v.index_date)
)

select
    w.patient_id,
    w.index_date,
    w.label_window_end_date,
    w.lookback_start_date,
    c.data_end_date,
    coalesce(w.label_window_end_date <= c.data_end_date, false) as label_window_observed
from windows as w
cross join cutoff as c
