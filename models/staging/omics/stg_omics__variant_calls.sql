{{ config(
    materialized='incremental', incremental_strategy=mmh_insert_or_merge_strategy(),
    merge_probe=['sample_id'], unique_key='variant_row_id',
    on_schema_change='append_new_columns', table_type='iceberg',
    post_hook="{{ mmh_drop_superseded_genomes(mmh_genome_file_id('sample_id', 'contig', 'source_file', 'source_lake_run')) }}"
) }}
{#- One row per sample and site (HealthOmics variant store), from the one VCF whose calls count for that sample
    and contig (macros/genomics/genomes.sql: the newest lake run, then the last source path). Positions:
    `start_0based` as stored (0-based, HealthOmics/BED convention; -1 for POS 0), `position_1based` as in the VCF.
    The genotype is read from `calls` (allele indexes, -1 for a missing allele); contigs are normalized so that
    `chr1` and `1` compare equal. A site written twice in one file (same sample, contig, start, REF and ALT list)
    keeps one record: PASS first, then the highest QUAL, GQ, DP, then the genotype text and the other columns, so
    the choice never depends on the engine's row order. Incremental: MERGE of the new lake runs' rows, then the
    rows of genome files a newer file superseded are deleted (post-hook), as a full refresh would leave them. -#}
{%- set specs = [
    {'name': 'sample_id', 'expr': 'r.sampleid', 'type': 'varchar', 'needs': ['sampleid']},
    {'name': 'contig_name', 'expr': 'r.contigname', 'type': 'varchar', 'needs': ['contigname']},
    {'name': 'start_0based', 'expr': 'r.start', 'type': 'bigint', 'needs': ['start']},
    {'name': 'end_0based_exclusive', 'expr': 'r."end"', 'type': 'bigint', 'needs': ['end']},
    {'name': 'variant_name', 'expr': mmh_first('r.names'), 'type': 'varchar', 'needs': ['names']},
    {'name': 'reference_allele', 'expr': 'r.referenceallele', 'type': 'varchar', 'needs': ['referenceallele']},
    {'name': 'alternate_alleles', 'expr': 'r.alternatealleles', 'type': 'varchar[]', 'needs': ['alternatealleles']},
    {'name': 'alternate_alleles_text', 'expr': mmh_list_join('r.alternatealleles', ','), 'type': 'varchar', 'needs': ['alternatealleles']},
    {'name': 'n_alternate_alleles', 'expr': mmh_length('r.alternatealleles'), 'type': 'integer', 'needs': ['alternatealleles']},
    {'name': 'qual', 'expr': 'r.qual', 'type': 'double', 'needs': ['qual']},
    {'name': 'filters_text', 'expr': mmh_list_join('r.filters', ';'), 'type': 'varchar', 'needs': ['filters']},
    {'name': 'phased', 'expr': 'r.phased', 'type': 'boolean', 'needs': ['phased']},
    {'name': 'calls', 'expr': 'r.calls', 'type': 'integer[]', 'needs': ['calls']},
    {'name': 'ploidy', 'expr': mmh_length('r.calls'), 'type': 'integer', 'needs': ['calls']},
    {'name': 'allele_1_index', 'expr': mmh_element('r.calls', 1), 'type': 'integer', 'needs': ['calls']},
    {'name': 'allele_2_index', 'expr': mmh_element('r.calls', 2), 'type': 'integer', 'needs': ['calls']},
    {'name': 'read_depth', 'expr': 'r.depth', 'type': 'integer', 'needs': ['depth']},
    {'name': 'genotype_quality', 'type': 'integer', 'candidates': [
        {'expr': 'r.genotypequality', 'needs': ['genotypequality']},
        {'expr': 'r.conditionalquality', 'needs': ['conditionalquality']}]},
    {'name': 'source_lake_run', 'expr': 'r.lake_run', 'type': 'varchar', 'needs': ['lake_run']},
    {'name': 'source_file', 'expr': 'r.lake_source', 'type': 'varchar', 'needs': ['lake_source']},
] -%}
with source as (
{{ mmh_select_source(source('omics', 'variants'), specs) }}
),

typed as (
select
    sample_id || '|' || contig_name || '|' || cast(start_0based as varchar) || '|' || reference_allele
        || '|' || coalesce(alternate_alleles_text, '') as variant_row_id,
    sample_id,
    contig_name,
    {{ normalize_contig('contig_name') }} as contig,
    start_0based,
    end_0based_exclusive,
    start_0based + 1 as position_1based,
    variant_name,
    reference_allele,
    alternate_alleles,
    alternate_alleles_text,
    n_alternate_alleles,
    qual,
    filters_text,
    coalesce(filters_text in ('PASS', '.', ''), filters_text is null) as is_pass,
    phased,
    calls,
    ploidy,
    allele_1_index,
    allele_2_index,
    -- VCF-style genotype text of every allele (any ploidy): `|` when phased, `/` otherwise, `.` for a missing allele
    {%- set allele_texts = mmh_transform('calls', 'x', "case when x < 0 then '.' else cast(x as varchar) end") %}
    case
        when allele_1_index is null then null
        when phased then {{ mmh_list_join(allele_texts, '|') }}
        else {{ mmh_list_join(allele_texts, '/') }}
    end as genotype,
    read_depth,
    genotype_quality,
    source_lake_run,
    source_file
from source as s
where s.sample_id is not null{{ mmh_genome_rows_since('s', ['source_lake_run']) }}
),

-- the rows of the one genome file that counts for each sample and contig: an anti-join with the superseded files
-- (cheaper than joining every row to the current ones), left out when no file was ever superseded
-- depends_on: {{ ref('stg_omics__genome_files') }}
current_files as (
select t.*
from typed as t
{%- if mmh_superseded_genome_files() %}
left join {{ ref('stg_omics__genome_files') }} as g
    on t.sample_id = g.sample_id
    and t.contig = g.contig
    and coalesce(t.source_file, '') = coalesce(g.source_file, '')
    and coalesce(t.source_lake_run, '') = coalesce(g.source_lake_run, '')
    and not g.is_current
where g.sample_id is null
{%- endif %}
),

-- one record per site and file: a partition never spans files (its lake run and file are in the key)
{{ mmh_one_row_per('current_calls', 'current_files', ['source_lake_run', 'source_file', 'variant_row_id'],
    'r.is_pass desc, r.qual desc nulls last, r.genotype_quality desc nulls last, r.read_depth desc nulls last,
    r.genotype asc nulls last, r.phased asc nulls last, r.variant_name asc nulls last, r.filters_text asc nulls last,
    r.end_0based_exclusive asc nulls last, r.contig_name asc',
    ['variant_row_id', 'sample_id', 'contig_name', 'contig', 'start_0based', 'end_0based_exclusive',
     'position_1based', 'variant_name', 'reference_allele', 'alternate_alleles', 'alternate_alleles_text',
     'n_alternate_alleles', 'qual', 'filters_text', 'is_pass', 'phased', 'calls', 'ploidy', 'allele_1_index',
     'allele_2_index', 'genotype', 'read_depth', 'genotype_quality', 'source_lake_run', 'source_file'],
    repeated=mmh_repeated_sites(source('omics', 'variants'),
        ['sampleid', 'contigname', 'start', 'referenceallele', 'lake_source', 'lake_run'], 'lake_run',
        'source_lake_run')) }}

select s.* from current_calls as s
{{ mmh_incremental_filter('variant_row_id', ['source_lake_run']) }}
