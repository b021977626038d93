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
