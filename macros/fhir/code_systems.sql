{#- Code systems by short name, so models say `fhir_code('code', 'snomed')`. -#}
{% macro fhir_system(name) -%}
{%- set systems = {
    'snomed': 'http://snomed.info/sct',
    'loinc': 'http://loinc.org',
    'rxnorm': 'http://www.nlm.nih.gov/research/umls/rxnorm',
    'icd10': 'http://hl7.org/fhir/sid/icd-10-cm',
    'cpt': 'http://www.ama-assn.org/go/cpt',
    'ucum': 'http://unitsofmeasure.org',
    'dicom_modality': 'http://dicom.nema.org/resources/ontology/DCM',
    'condition_clinical': 'http://terminology.hl7.org/CodeSystem/condition-clinical',
    'claim_type': 'http://terminology.hl7.org/CodeSystem/claim-type',
    'observation_category': 'http://terminology.hl7.org/CodeSystem/observation-category'
} -%}
{{- return(systems.get(name, name)) -}}
{%- endmacro %}

