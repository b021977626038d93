{#- When the data this lake holds ends, and the index cutoff features_cardiovascular places its index dates by. One row.

    data_end_date: the var `extract_date` when a deployment states when its extract was taken, else the latest
    clinical event the lake holds (encounter start, condition onset, observation value, procedure, prescription).
    Read from the clinical facts (one date column of a table each), not the staging views: the views parse every
    FHIR resource again, and on a scheduled run this model would be the one node that reads the whole clinical
    lake. The facts hold each resource's current version, so their latest date is the lake's.
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
    select max(encounter_date) as event_date from {{ ref('fct_encounter') }}
    union all
    select max(onset_date) from {{ ref('fct_condition') }}
    union all
    select max(effective_date) from {{ ref('fct_observation') }}
    union all
    select max(performed_date) from {{ ref('fct_procedure') }}
    union all
    select max(authored_date) from {{ ref('fct_medication') }}
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
