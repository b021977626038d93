{#- One row per sample, site and alternate allele (multi-allelic sites unnested with their allele index), with
    the site's genotype and how many copies of this allele the sample carries - one pass over the variant rows.
    Grain for matching ClinVar, whose records are per alternate allele. Two records of one file may both carry an
    allele at one site (`A>T,G` and `A>T`): one row is kept, ranked as stg_omics__variant_calls ranks copies of a
    site (PASS, QUAL, GQ, DP, then the genotype and the other columns). -#}
with alleles as (
    {{ mmh_explode(ref('stg_omics__variant_calls'), 'c', 'c.alternate_alleles', 'alternate_allele', 'alt_index') }}
),

ranked as (
    select
        c.*,
        row_number() over (
            partition by c.source_lake_run, c.source_file, c.sample_id, c.contig, c.start_0based, c.reference_allele,
                c.alternate_allele
            order by c.is_pass desc, c.qual desc nulls last, c.genotype_quality desc nulls last,
                c.read_depth desc nulls last, c.genotype asc nulls last, c.phased asc nulls last, c.alt_index asc,
                c.alternate_alleles_text asc, c.variant_name asc nulls last, c.contig_name asc
        ) as copy_rank
    from alleles as c
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
from ranked as c
where c.copy_rank = 1
