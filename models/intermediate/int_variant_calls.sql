{#- Genotype calls per sample, site and alternate allele, with the site-level genotype and a zygosity for that
    allele. Grain: one row per (sample, contig, start, reference, alternate allele). -#}
select
    a.sample_id as patient_id,
    a.contig,
    a.start_0based,
    a.start_0based + 1 as position_1based,
    a.reference_allele,
    a.alternate_allele,
    a.alt_index,
    c.variant_name,
    c.genotype,
    c.phased,
    c.is_pass,
    c.qual,
    c.read_depth,
    c.genotype_quality,
    c.source_lake_run,
    c.ploidy,
    a.allele_dosage,
    a.n_called_alleles,
    case
        when a.n_called_alleles = 0 then 'no_call'
        when a.allele_dosage = 0 and c.allele_1_index = 0 and coalesce(c.allele_2_index, 0) = 0 then 'homozygous_reference'
        when a.allele_dosage = 0 then 'other_allele'
        when c.ploidy = 1 then 'hemizygous'
        when a.allele_dosage = c.ploidy then 'homozygous_alternate'
        when least(c.allele_1_index, coalesce(c.allele_2_index, 0)) = 0 then 'heterozygous'
        when a.n_called_alleles < c.ploidy then 'partial_call'
        else 'heterozygous_multiallelic'
    end as zygosity
from {{ ref('stg_omics__variant_alleles') }} as a
inner join {{ ref('stg_omics__variant_calls') }} as c
    on a.sample_id = c.sample_id
    and a.contig = c.contig
    and a.start_0based = c.start_0based
    and a.reference_allele = c.reference_allele
