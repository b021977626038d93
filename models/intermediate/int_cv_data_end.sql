{#- When the data this lake holds ends, and the index cutoff features_cardiovascular places its index dates by. One row.

    data_end_date: the var `extract_date` when a deployment states when its extract was taken, else the latest
    clinical event the lake holds (encounter start, condition onset, observation, procedure, prescription).
    index_cutoff_date: the var `cv_index_cutoff_date` when a study fixes its index date, else the start of the year
    that holds data_end_date - label_horizon_days. Every label window then ends on or before the data end (fully
    observed), and because the cutoff moves only at a year boundary, a scheduled run on a growing extract keeps
    every patient's index date - and so their features - until the data reaches a new year. -#}
{%- set extract_date = var('extract_date', none) -%}
{%- set index_cutoff = var('cv_index_cutoff_date', none) -%}
{%- if extract_date %}
with data_end as (
    select
        cast('{{ extract_date }}' as date) as data_end_date,
        'extract_date var' as data_end_source
)
{%- else %}
with events as (
    select max(cast(started_at as date)) as event_date from {{ ref('stg_fhir__encounter') }}
    union all
    select max(cast(onset_at as date)) from {{ ref('stg_fhir__condition') }}
    union all
    select max(cast(effective_at as date)) from {{ ref('stg_fhir__observation') }}
    union all
    select max(cast(performed_at as date)) from {{ ref('stg_fhir__procedure') }}
    union all
    select max(cast(authored_at as date)) from {{ ref('stg_fhir__medication_request') }}
),

data_end as (
    select
        max(event_date) as data_end_date,
        'latest clinical event' as data_end_source
    from events
)
{%- endif %}

select
    data_end_date,
    cast(data_end_source as varchar) as data_end_source,
    {%- if index_cutoff %}
    cast('{{ index_cutoff }}' as date) as index_cutoff_date,
    cast('cv_index_cutoff_date var' as varchar) as index_cutoff_source
    {%- else %}
    cast(date_trunc('year', {{ mmh_add_days('data_end_date', '-' ~ var('label_horizon_days')) }}) as date)
        as index_cutoff_date,
    cast('data end - label_horizon_days, start of that year' as varchar) as index_cutoff_source
    {%- endif %}
from data_end
