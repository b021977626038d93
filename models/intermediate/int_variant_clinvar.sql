{{ config(materialized='view') }}
{#- Carried alleles (dosage >= 1, read from the incremental fct_variant_call) matched to ClinVar annotations on
    normalized contig, 0-based start, reference and alternate allele, with CLNSIG placed on the ordered scale of
    seed clinvar_significance. A multi-valued CLNSIG (`Pathogenic|risk_factor`, `Pathogenic,_risk_factor`) is ranked by its first term.
    Grain: one row per carried allele and matching ClinVar record. A view, so that the watermark filter of the
    incremental fct_variant_clinvar reaches fct_variant_call and the annotations. -#}
with annotations as (
    select
        a.*,
        lower(split_part(split_part(split_part(a.clinical_significance_raw, '|', 1), ',', 1), ';', 1)) as clinvar_term
    from {{ ref('stg_omics__annotations') }} as a
)

select
    -- unique per row: one call matches one ClinVar record at most once
    v.variant_call_id || '|' || coalesce(a.clinvar_variation_id, '') as variant_clinvar_id,
    v.variant_call_id,
    a.clinvar_variation_id,
    v.patient_key,
    v.contig,
    v.start_0based,
    v.position_1based,
    v.reference_allele,
    v.alternate_allele,
    v.variant_name,
    v.genotype,
    v.zygosity,
    v.allele_dosage,
    a.rsid,
    a.gene_symbol,
    a.clinical_significance_raw,
    coalesce(s.clinical_significance, 'other') as clinical_significance,
    coalesce(s.significance_rank, 0) as significance_rank,
    coalesce(s.is_pathogenic_or_likely, false) as is_pathogenic_or_likely,
    a.review_status,
    a.disease_names,
    v.source_lake_run,
    v.source_file,
    a.source_lake_run as annotation_lake_run
from {{ ref('fct_variant_call') }} as v
inner join annotations as a
    on v.contig = a.contig
    and v.start_0based = a.start_0based
    and v.reference_allele = a.reference_allele
    and v.alternate_allele = a.alternate_allele
left join {{ ref('clinvar_significance') }} as s on a.clinvar_term = s.clinvar_term
where v.allele_dosage > 0
