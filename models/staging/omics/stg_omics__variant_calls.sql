{{ config(
    materialized='incremental', incremental_strategy='merge', unique_key='variant_row_id',
    on_schema_change='append_new_columns', table_type='iceberg'
) }}
{#- One row per sample and site (HealthOmics variant store). Positions: `start_0based` as stored (0-based,
    HealthOmics/BED convention), `position_1based` as in the VCF. The genotype is read from `calls` (allele
    indexes, -1 for a missing allele); contigs are normalized so that `chr1` and `1` compare equal. -#}
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
] -%}
with source as (
{{ mmh_select_source(source('omics', 'variants'), specs) }}
),

typed as (
select
    sample_id || '|' || contig_name || '|' || cast(start_0based as varchar) || '|' || reference_allele as variant_row_id,
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
    -- VCF-style genotype text: `|` when phased, `/` otherwise, `.` for a missing allele
    case when allele_1_index is null then null else
        case when allele_1_index < 0 then '.' else cast(allele_1_index as varchar) end
        || case when allele_2_index is null then ''
                else case when phased then '|' else '/' end
                     || case when allele_2_index < 0 then '.' else cast(allele_2_index as varchar) end
           end
    end as genotype,
    read_depth,
    genotype_quality,
    source_lake_run
from source
where sample_id is not null
)

select s.* from typed as s
{{ mmh_incremental_filter('variant_row_id', ['source_lake_run']) }}
