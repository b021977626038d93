{{ config(
    materialized='incremental', incremental_strategy=mmh_insert_or_merge_strategy(),
    merge_probe=['patient_key'], unique_key='variant_call_id',
    on_schema_change='append_new_columns', partitioned_by=mmh_partitioned_by(['contig']),
    post_hook="{{ mmh_drop_superseded_genomes(mmh_genome_file_id('patient_key', 'contig', 'source_file', 'source_lake_run'), by_patient=true) }}"
) }}
{#- One row per patient, site and alternate allele: genotype, zygosity for that allele and allele dosage
    (copies carried, 0 to the ploidy). Positions in both conventions, named by convention. Calls come from the one
    VCF per patient and contig whose calls count (macros/genomics/genomes.sql), one row per allele of that file (the
    record ranked as stg_omics__variant_calls ranks copies of a site). The incremental MERGE is followed by the
    deletion of rows of genome files a newer file superseded (post-hook). -#}
-- depends_on: {{ ref('stg_omics__genome_files') }}
with calls as (
    select v.*
    from {{ ref('int_variant_calls') }} as v
    where true{{ mmh_genome_rows_since('v', ['source_lake_run']) }}
),

-- one row per allele and file: two records of one file may both carry an allele at a site (`A>T,G` and `A>T`)
{{ mmh_one_row_per('one_per_allele', 'calls',
    ['source_lake_run', 'source_file', 'patient_id', 'contig', 'start_0based', 'reference_allele', 'alternate_allele'],
    'r.is_pass desc, r.qual desc nulls last, r.genotype_quality desc nulls last, r.read_depth desc nulls last,
    r.genotype asc nulls last, r.phased asc nulls last, r.alt_index asc, r.alternate_alleles_text asc,
    r.variant_name asc nulls last',
    ['patient_id', 'contig', 'start_0based', 'position_1based', 'reference_allele', 'alternate_allele', 'alt_index',
     'variant_name', 'genotype', 'phased', 'is_pass', 'qual', 'read_depth', 'genotype_quality', 'source_lake_run',
     'source_file', 'ploidy', 'allele_dosage', 'n_called_alleles', 'zygosity'],
    repeated=mmh_repeated_sites(ref('int_variant_calls'),
        ['patient_id', 'contig', 'start_0based', 'reference_allele', 'alternate_allele', 'source_file',
         'source_lake_run'],
        'source_lake_run', 'source_lake_run')) }},

s as (
    select
        v.*,
        k.patient_key,
        -- stable id of the call, independent of the pseudonym key
        {{ mmh_sha256("v.patient_id || '|' || v.contig || '|' || cast(v.start_0based as varchar) || '|' || v.reference_allele || '|' || v.alternate_allele") }} as variant_call_id
    from one_per_allele as v
    left join {{ ref('int_patient_spine') }} as k on v.patient_id = k.patient_id
)

select
    cast(s.variant_call_id as varchar) as variant_call_id,
    cast(s.patient_key as varchar) as patient_key,
    cast(s.contig as varchar) as contig,
    cast(s.start_0based as bigint) as start_0based,
    cast(s.position_1based as bigint) as position_1based,
    cast(s.reference_allele as varchar) as reference_allele,
    cast(s.alternate_allele as varchar) as alternate_allele,
    cast(s.alt_index as integer) as alt_index,
    cast(s.variant_name as varchar) as variant_name,
    cast(s.genotype as varchar) as genotype,
    cast(s.zygosity as varchar) as zygosity,
    cast(s.allele_dosage as integer) as allele_dosage,
    cast(s.n_called_alleles as integer) as n_called_alleles,
    cast(s.ploidy as integer) as ploidy,
    cast(s.phased as boolean) as phased,
    cast(s.is_pass as boolean) as is_pass,
    cast(s.qual as double) as qual,
    cast(s.read_depth as integer) as read_depth,
    cast(s.genotype_quality as integer) as genotype_quality,
    cast(s.source_lake_run as varchar) as source_lake_run,
    cast(s.source_file as varchar) as source_file
from s
{{ mmh_incremental_filter('variant_call_id', ['source_lake_run']) }}
