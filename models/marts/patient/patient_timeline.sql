{{ config(
    materialized='incremental', incremental_strategy=mmh_insert_or_merge_strategy(), unique_key='event_id',
    on_schema_change='append_new_columns'
) }}
{#- Every dated event of a patient across modalities, for the patient-level dashboard: encounters, diagnoses,
    observations, procedures, prescriptions, claims, genetic test reports and imaging studies.
    Grain: one row per event (event_id is unique across sources).
    Incremental: an event carries the watermarks of its source row, and an incremental run merges only the events
    newer than the table's newest (see mmh_incremental_filter). Imaging studies have no watermark (they combine FHIR
    and DICOM rows): a study's event is merged when it is new or differs from the one held. -#}
{%- set incremental = not var('offline_catalog', false) and mmh_catalog_readable() and is_incremental() %}
with studies as (
    select
        study.patient_key,
        'imaging_study:' || study.study_instance_uid as event_id,
        {{ mmh_cast('study.study_date', 'timestamp') }} as event_at,
        study.modality as code,
        coalesce(study.study_description, study.body_site, study.modality) as description,
        cast(study.n_image_sets as double) as value_numeric
    from {{ ref('dim_imaging_study') }} as study
),

events as (
    select patient_key, 'encounter:' || encounter_id as event_id, started_at as event_at, 'clinical' as modality,
        'encounter' as event_type, encounter_class as code, encounter_type_display as description,
        cast(null as double) as value_numeric, cast(null as varchar) as value_unit,
        source_last_updated_at, source_lake_run
    from {{ ref('fct_encounter') }}
    union all
    select patient_key, 'condition:' || condition_id, onset_at, 'clinical', 'condition', condition_code,
        condition_display, null, null, source_last_updated_at, source_lake_run
    from {{ ref('fct_condition') }}
    union all
    select patient_key, 'observation:' || observation_value_id, effective_at, 'clinical', 'observation',
        observation_code, coalesce(observation_display, measure), value_numeric, value_unit,
        source_last_updated_at, source_lake_run
    from {{ ref('fct_observation') }}
    union all
    select patient_key, 'procedure:' || procedure_id, performed_at, 'clinical', 'procedure', procedure_code,
        procedure_display, null, null, source_last_updated_at, source_lake_run
    from {{ ref('fct_procedure') }}
    union all
    select patient_key, 'medication:' || medication_request_id, authored_at, 'clinical', 'medication',
        medication_code, medication_display, null, null, source_last_updated_at, source_lake_run
    from {{ ref('fct_medication') }}
    union all
    select patient_key, 'claim:' || claim_id, claim_at, 'clinical', 'claim', claim_type,
        coalesce(claim_use, claim_type) as claim_description, total_amount, currency,
        source_last_updated_at, source_lake_run
    from {{ ref('fct_claim') }}
    union all
    select k.patient_key, 'genetic_report:' || d.diagnostic_report_id, d.effective_at, 'genomic',
        'genetic_report', d.report_code, d.report_display, null, null,
        d.source_last_updated_at, d.source_lake_run
    from {{ ref('stg_fhir__diagnostic_report') }} as d
    inner join {{ ref('int_patient_spine') }} as k on d.patient_id = k.patient_id
    where d.report_code = '55232-3'
    union all
    select i.patient_key, i.event_id, i.event_at, 'imaging', 'imaging_study', i.code, i.description, i.value_numeric,
        'image sets', null, null
    from studies as i
    {%- if incremental %}
    {#- Studies have no watermark. Every run used to merge every study's event again, an update of each row
        whether it changed or not; now only a new study's event, or one that differs from the event held. #}
    where not exists (
        select 1 from {{ this }} as held
        where held.event_id = i.event_id
            and held.patient_key is not distinct from i.patient_key
            and held.event_at is not distinct from i.event_at
            and held.code is not distinct from i.code
            and held.description is not distinct from i.description
            and held.value_numeric is not distinct from i.value_numeric
    )
    {%- endif %}
)

select
    cast(patient_key as varchar) as patient_key,
    cast(event_id as varchar) as event_id,
    {{ mmh_cast('event_at', 'timestamp') }} as event_at,
    cast(cast(event_at as date) as date) as event_date,
    cast(modality as varchar) as modality,
    cast(event_type as varchar) as event_type,
    cast(code as varchar) as code,
    cast(description as varchar) as description,
    cast(value_numeric as double) as value_numeric,
    cast(value_unit as varchar) as value_unit,
    {{ mmh_cast('source_last_updated_at', 'timestamp') }} as source_last_updated_at,
    cast(source_lake_run as varchar) as source_lake_run
from events
where patient_key is not null and event_at is not null
{%- if incremental %}
    {%- set newer = mmh_newer_than_this(['source_last_updated_at', 'source_lake_run'], 'events') %}
    {%- if newer %}
    and ({{ newer | join(' or ') }} or (events.source_last_updated_at is null and events.source_lake_run is null))
    {%- endif %}
{%- endif %}
