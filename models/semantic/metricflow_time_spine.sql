{#- One row per day, the calendar MetricFlow joins to for time-based metrics (cumulative windows, offsets,
    filling empty periods). Built from digits so the same SQL runs on DuckDB and Athena; dbt.dateadd is
    dbt's own cross-database macro. -#}
{%- set start_date = var('time_spine_start', '1900-01-01') -%}
{%- set end_date = var('time_spine_end', '2050-12-31') -%}
with digits as (
    select d from (values (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)) as t (d)
),

day_offsets as (
    select a.d + 10 * b.d + 100 * c.d + 1000 * e.d + 10000 * f.d as n
    from digits as a
    cross join digits as b
    cross join digits as c
    cross join digits as e
    cross join digits as f
),

days as (
    select cast({{ dbt.dateadd('day', 'n', "cast('" ~ start_date ~ "' as date)") }} as date) as date_day
    from day_offsets
)

select date_day
from days
where date_day <= cast('{{ end_date }}' as date)
