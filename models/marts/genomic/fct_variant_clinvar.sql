{#- One row per carried allele matched to ClinVar (normalized contig, 0-based start, reference, alternate), with
    clinical significance on the ordered scale 5 pathogenic .. 1 benign (0 = not on the pathogenicity axis). -#}
select
    cast(v.variant_call_id as varchar) as variant_call_id,
    cast(v.patient_key as varchar) as patient_key,
    cast(v.contig as varchar) as contig,
    cast(v.start_0based as bigint) as start_0based,
    cast(v.position_1based as bigint) as position_1based,
    cast(v.reference_allele as varchar) as reference_allele,
    cast(v.alternate_allele as varchar) as alternate_allele,
    cast(coalesce(v.rsid, v.variant_name) as varchar) as rsid,
    cast(v.gene_symbol as varchar) as gene_symbol,
    cast(v.genotype as varchar) as genotype,
    cast(v.zygosity as varchar) as zygosity,
    cast(v.allele_dosage as integer) as allele_dosage,
    cast(v.clinical_significance_raw as varchar) as clinical_significance_raw,
    cast(v.clinical_significance as varchar) as clinical_significance,
    cast(v.significance_rank as integer) as significance_rank,
    cast(v.is_pathogenic_or_likely as boolean) as is_pathogenic_or_likely,
    cast(v.review_status as varchar) as review_status,
    cast(v.disease_names as varchar) as disease_names
from {{ ref('int_variant_clinvar') }} as v
