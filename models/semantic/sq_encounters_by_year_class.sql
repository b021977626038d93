{#- Saved query `encounters_by_year_class`, materialized: encounters per calendar year (of encounter_date) and
    class. Small counts are nulled and flagged. -#}
{{ config(contract={'enforced': true}) }}

with counts as (
    select
        cast(date_trunc('year', encounter_date) as date) as encounter_year,
        coalesce(encounter_class, 'unknown') as encounter_class,
        count(encounter_id) as n_encounters
    from {{ ref('fct_encounter') }}
    group by cast(date_trunc('year', encounter_date) as date), coalesce(encounter_class, 'unknown')
)

select
    cast(encounter_year as date) as encounter_year,
    cast(encounter_class as varchar) as encounter_class,
    cast({{ suppress('n_encounters') }} as bigint) as encounter_count,
    cast({{ is_small_cell('n_encounters') }} as boolean) as is_suppressed
from counts
