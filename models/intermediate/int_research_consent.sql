{#- Each patient's current research consent: the latest active FHIR Consent with scope `research`, whenever it was
    made - a governance attribute, not a feature, so there is no as-of date (an opt-out made yesterday must hide
    the patient today). Grain: one row per patient with a research consent decision. -#}
select
    k.patient_key,
    max_by(c.provision_type = 'permit', c.decided_at) as research_consent,
    max(c.decided_at) as decided_at
from {{ ref('stg_fhir__consent') }} as c
inner join {{ ref('int_patient_spine') }} as k on c.patient_id = k.patient_id
where c.status = 'active' and c.scope_code = 'research'
group by k.patient_key
