{{ config(materialized='view') }}
{#- Genotype calls per sample, site and alternate allele, with the site's genotype and a zygosity for that
    allele. Grain: one row per (sample, contig, start, reference, alternate allele) of each record; two records of
    one file that both carry an allele at a site (`A>T,G` and `A>T`) give two rows, of which fct_variant_call keeps
    one. -#}
select
    a.sample_id as patient_id,
    a.contig,
    a.start_0based,
    a.position_1based,
    a.reference_allele,
    a.alternate_allele,
    a.alt_index,
    a.alternate_alleles_text,
    a.variant_name,
    a.genotype,
    a.phased,
    a.is_pass,
    a.qual,
    a.read_depth,
    a.genotype_quality,
    a.source_lake_run,
    a.source_file,
    a.ploidy,
    a.allele_dosage,
    a.n_called_alleles,
    case
        when a.n_called_alleles = 0 then 'no_call'
        when a.allele_dosage = 0 and a.allele_1_index = 0 and coalesce(a.allele_2_index, 0) = 0 then 'homozygous_reference'
        when a.allele_dosage = 0 then 'other_allele'
        when a.ploidy = 1 then 'hemizygous'
        when a.allele_dosage = a.ploidy then 'homozygous_alternate'
        when least(a.allele_1_index, coalesce(a.allele_2_index, 0)) = 0 then 'heterozygous'
        when a.n_called_alleles < a.ploidy then 'partial_call'
        else 'heterozygous_multiallelic'
    end as zygosity
from {{ ref('stg_omics__variant_alleles') }} as a
