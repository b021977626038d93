{#- One row per sample, site and alternate allele of each record (multi-allelic sites unnested with their allele
    index), with the site's genotype and how many copies of this allele the sample carries - one pass over the
    variant rows. Grain for matching ClinVar, whose records are per alternate allele. Two records of one file may
    both carry an allele at one site (`A>T,G` and `A>T`); fct_variant_call keeps one of them. -#}
with alleles as (
    {{ mmh_explode(ref('stg_omics__variant_calls'), 'c', 'c.alternate_alleles', 'alternate_allele', 'alt_index') }}
)

select
    c.sample_id,
    c.contig_name,
    c.contig,
    c.start_0based,
    c.position_1based,
    c.variant_name,
    c.reference_allele,
    cast(c.alternate_allele as varchar) as alternate_allele,
    cast(c.alt_index as integer) as alt_index,
    c.alternate_alleles_text,
    -- copies of this allele among the called alleles (allele index i = the i-th alternate allele); a call
    -- without genotype (calls null, e.g. a haploid `.`) carries none
    cast(coalesce({{ mmh_length(mmh_filter('c.calls', 'x', 'x = c.alt_index')) }}, 0) as integer) as allele_dosage,
    cast(coalesce({{ mmh_length(mmh_filter('c.calls', 'x', 'x >= 0')) }}, 0) as integer) as n_called_alleles,
    c.genotype,
    c.phased,
    c.is_pass,
    c.qual,
    c.ploidy,
    c.allele_1_index,
    c.allele_2_index,
    c.read_depth,
    c.genotype_quality,
    c.source_lake_run,
    c.source_file
from alleles as c
