{#- Saved query `encounters_by_year_class`, materialized: encounters per calendar year (of encounter_date) and
    class. Small counts are nulled and flagged. is_partial_year marks the year the data end in when they end
    before 31 December (the latest encounter date stands for the extract date), so a dashboard can mark that
    year's drop as partial instead of showing it as a trend. -#}
{{ config(contract={'enforced': true}) }}

with counts as (
    select
        cast(date_trunc('year', encounter_date) as date) as encounter_year,
        coalesce(encounter_class, 'unknown') as encounter_class,
        count(encounter_id) as n_encounters
    from {{ ref('fct_encounter') }}
    group by cast(date_trunc('year', encounter_date) as date), coalesce(encounter_class, 'unknown')
),

data_end as (
    select max(encounter_date) as last_date
    from {{ ref('fct_encounter') }}
)

select
    cast(c.encounter_year as date) as encounter_year,
    cast(c.encounter_class as varchar) as encounter_class,
    cast({{ suppress('c.n_encounters') }} as bigint) as encounter_count,
    cast({{ is_small_cell('c.n_encounters') }} as boolean) as is_suppressed,
    cast(
        c.encounter_year = cast(date_trunc('year', e.last_date) as date)
        and not (month(e.last_date) = 12 and day(e.last_date) = 31)
        as boolean
    ) as is_partial_year
from counts as c
cross join data_end as e
