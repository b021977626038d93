{#- One row per FHIR Patient: demographics typed, US Core race/ethnicity read from the JSON-string extensions. -#}
{%- set race_url = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race' -%}
{%- set eth_url = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity' -%}
{%- set specs = [
    {'name': 'patient_id', 'expr': 'r.id', 'type': 'varchar', 'needs': ['id']},
    {'name': 'gender', 'expr': 'lower(r.gender)', 'type': 'varchar', 'needs': ['gender']},
    {'name': 'birth_date', 'expr': 'cast(' ~ mmh_timestamp('r.birthdate') ~ ' as date)', 'type': 'date', 'needs': ['birthdate']},
    {'name': 'deceased_at', 'expr': mmh_timestamp('r.deceaseddatetime'), 'type': 'timestamp', 'needs': ['deceaseddatetime']},
    {'name': 'deceased_flag', 'expr': 'r.deceasedboolean', 'type': 'boolean', 'needs': ['deceasedboolean']},
    {'name': 'deceased_flag_invalid', 'expr': mmh_invalid_value('r.deceasedboolean', 'boolean'), 'type': 'varchar', 'needs': ['deceasedboolean']},
    {'name': 'race', 'expr': us_core_category('r.extension', race_url), 'type': 'varchar', 'needs': ['extension']},
    {'name': 'ethnicity', 'expr': us_core_category('r.extension', eth_url), 'type': 'varchar', 'needs': ['extension']},
    {'name': 'marital_status', 'expr': fhir_code('r.maritalstatus'), 'type': 'varchar', 'needs': ['maritalstatus.coding']},
    {'name': 'address_state', 'expr': mmh_first('r.address') ~ '.state', 'type': 'varchar', 'needs': ['address.state']},
    {'name': 'address_postal_code', 'expr': mmh_first('r.address') ~ '.postalcode', 'type': 'varchar', 'needs': ['address.postalcode']},
    {'name': 'source_last_updated_at', 'expr': mmh_timestamp('r.meta.lastupdated'), 'type': 'timestamp', 'needs': ['meta.lastupdated']},
    {'name': 'source_lake_run', 'expr': 'r.lake_run', 'type': 'varchar', 'needs': ['lake_run']},
] -%}
with source as (
{{ mmh_select_source(source('healthlake', 'patient'), specs, current_only=true, safe_types=true) }}
)

select * from source
where patient_id is not null
