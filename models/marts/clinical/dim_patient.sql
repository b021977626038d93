{#- One row per patient known to any modality: demographics, age, deceased status and the pseudonymous
    patient_key every analytics mart uses instead of the FHIR id. The only mart that holds the raw id. -#}
{%- set as_of = "cast('" ~ var('as_of_date') ~ "' as date)" if var('as_of_date', none) else 'current_date' -%}
with spine as (
    select * from {{ ref('int_patient_spine') }}
),

patient as (
    select * from {{ ref('stg_fhir__patient') }}
)

select
    cast(s.patient_key as varchar) as patient_key,
    cast(s.patient_id as varchar) as patient_id,
    cast(p.gender as varchar) as gender,
    cast(p.birth_date as date) as birth_date,
    cast(year(p.birth_date) as integer) as birth_year,
    -- age at death for the deceased, else as of the as_of_date var (default: today)
    cast({{ mmh_years_between('p.birth_date', 'coalesce(cast(p.deceased_at as date), ' ~ as_of ~ ')') }} as integer) as age_years,
    cast(coalesce(p.deceased_at is not null or p.deceased_flag, false) as boolean) as is_deceased,
    cast(cast(p.deceased_at as date) as date) as deceased_date,
    cast(p.race as varchar) as race,
    cast(p.ethnicity as varchar) as ethnicity,
    cast(p.marital_status as varchar) as marital_status,
    cast(p.address_state as varchar) as address_state,
    cast(s.has_clinical as boolean) as has_clinical,
    cast(s.has_genomics as boolean) as has_genomics,
    cast(s.has_imaging as boolean) as has_imaging
from spine as s
left join patient as p on s.patient_id = p.patient_id
