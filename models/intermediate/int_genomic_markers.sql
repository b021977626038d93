{{ config(materialized='view') }}
{#- APOE genotype and marker-allele dosages per genotyped patient. APOE isoforms come from two SNPs:
    rs429358 C marks e4, rs7412 T marks e2, neither marks e3 (e1 is too rare to call). A dosage is the number of
    copies of the counted allele (0, 1, 2), counting a reference-allele marker as called alleles minus
    alternate copies; null when the site is missing or not called. Grain: one row per patient with genomics. -#}
{%- set markers = cv_marker_alleles() -%}
with site_dosage as (
    -- one row per patient and marker site: copies of each relevant allele
    select
        patient_key,
        variant_name,
        max(reference_allele) as reference_allele,
        max(n_called_alleles) as n_called_alleles,
        sum(allele_dosage) as total_alternate_dosage,
        max(case when variant_name = 'rs429358' and alternate_allele = 'C' then allele_dosage end) as apoe_e4_alt,
        max(case when variant_name = 'rs7412' and alternate_allele = 'T' then allele_dosage end) as apoe_e2_alt
        {%- for m in markers %},
        max(case when variant_name = '{{ m.rsid }}' and alternate_allele = '{{ m.allele }}' then allele_dosage end) as {{ m.column }}_alt
        {%- endfor %}
    from {{ ref('fct_variant_call') }}
    where variant_name in ('rs429358', 'rs7412'{% for m in markers %}, '{{ m.rsid }}'{% endfor %})
    group by patient_key, variant_name
),

per_patient as (
    select
        patient_key,
        {{ marker_dosage('rs429358', 'C', 'apoe_e4_alt') }} as apoe_e4_dosage,
        {{ marker_dosage('rs7412', 'T', 'apoe_e2_alt') }} as apoe_e2_dosage
        {%- for m in markers %},
        {{ marker_dosage(m.rsid, m.allele, m.column ~ '_alt') }} as {{ m.column }}_dosage
        {%- endfor %}
    from site_dosage
    group by patient_key
),

patients as (
    select distinct patient_key from {{ ref('fct_variant_call') }}
)

select
    p.patient_key,
    m.apoe_e4_dosage,
    m.apoe_e2_dosage,
    case
        when m.apoe_e4_dosage is null or m.apoe_e2_dosage is null or m.apoe_e4_dosage + m.apoe_e2_dosage > 2 then null
        when m.apoe_e2_dosage = 2 then 'e2/e2'
        when m.apoe_e2_dosage = 1 and m.apoe_e4_dosage = 0 then 'e2/e3'
        when m.apoe_e2_dosage = 1 and m.apoe_e4_dosage = 1 then 'e2/e4'
        when m.apoe_e4_dosage = 0 then 'e3/e3'
        when m.apoe_e4_dosage = 1 then 'e3/e4'
        else 'e4/e4'
    end as apoe_genotype
    {%- for m in markers %},
    m.{{ m.column }}_dosage
    {%- endfor %}
from patients as p
left join per_patient as m on p.patient_key = m.patient_key
