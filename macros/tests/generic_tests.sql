{#- Generic data tests used in model YAML (kept here rather than pulling in a package, so the project builds
    offline). Each returns the failing rows. -#}

{#- Values outside [min_value, max_value]; with allow_zero, 0 is accepted below min_value (suppressed counts
    are null, true zeros are shown). -#}
{% test mmh_value_between(model, column_name, min_value=none, max_value=none, allow_zero=false) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} is not null
  and (
    false
    {%- if min_value is not none %}
    or ({{ column_name }} < {{ min_value }}{% if allow_zero %} and {{ column_name }} <> 0{% endif %})
    {%- endif %}
    {%- if max_value is not none %}
    or {{ column_name }} > {{ max_value }}
    {%- endif %}
  )
{% endtest %}

{#- Duplicate combinations of the given columns. -#}
{% test mmh_unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n_rows
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}

{#- `relationships` for a child row derived from its parent row in the same ingest run (the same source_lake_run,
    e.g. a ClinVar match and the variant call it matched): the parent is read from the child's oldest lake run on.
    With data_tests_scope: new_rows the child is the newest run's rows, so the parent's older rows are skipped (row
    groups pruned by their lake run) instead of reading every id the parent ever held. A parent row in an older run
    than its child is reported as missing: a failure to look at, never a pass. Rows without a lake run (AWS, where
    the services' tables have none) are always read. -#}
{% test mmh_relationships_in_lake_run(model, column_name, to, field) %}
with child as (
    select {{ column_name }} as from_field, source_lake_run
    from {{ model }}
    where {{ column_name }} is not null
),

parent as (
    select {{ field }} as to_field
    from {{ to }}
    where source_lake_run is null or source_lake_run >= (select min(source_lake_run) from child)
)

select child.from_field
from child
left join parent on child.from_field = parent.to_field
where parent.to_field is null
{% endtest %}
