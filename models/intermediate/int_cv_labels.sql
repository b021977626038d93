{#- Outcome labels and prior-history flags of each indexed patient. A label is true when a condition of that
    group has its onset after the index date and no later than index_date + label_horizon_days; a prior flag is
    true when the onset is on or before the index date (prevalent at index - a feature, and the way to exclude
    prevalent cases per outcome). label_window_observed (from int_cv_index_dates) says whether the data reaches the
    end of the window: when it does not, a false label only means "not seen yet". Grain: one row per patient in
    int_cv_index_dates. Reads the condition fact (a table a scheduled run has already merged), not the staging
    view, which would parse every Condition resource of the lake again. -#}
{%- set outcomes = ['stroke', 'hypertension', 'coronary_heart_disease', 'alzheimers'] -%}
{%- set priors = outcomes + ['diabetes', 'hyperlipidemia', 'obesity', 'atrial_fibrillation', 'myocardial_infarction', 'smoker'] -%}
select
    i.patient_id,
    i.index_date,
    i.label_window_end_date,
    i.label_window_observed
    {%- for o in outcomes %},
    coalesce(max(case when c.condition_group = '{{ o }}' and c.onset_date > i.index_date
                      and c.onset_date <= i.label_window_end_date then 1 else 0 end), 0) = 1 as {{ o }}
    {%- endfor %}
    {%- for o in priors %},
    coalesce(max(case when c.condition_group = '{{ o }}' and c.onset_date <= i.index_date then 1 else 0 end), 0) = 1
        as prior_{{ o }}
    {%- endfor %}
from {{ ref('int_cv_index_dates') }} as i
left join {{ ref('fct_condition') }} as c on i.patient_key = c.patient_key
group by i.patient_id, i.index_date, i.label_window_end_date, i.label_window_observed
