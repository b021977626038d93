{#- One row per annotated site and alternate allele (HealthOmics annotation store from a ClinVar VCF); INFO
    fields read from the `attributes` map; contigs normalized (`1` and `chr1` compare equal). The same ClinVar
    record (variation id, site and allele) in several files - two releases under different names - is read once,
    from the newest file (lake run, then source path; then the record's text, for a record written twice in one
    file), as genome files are (macros/genomics/genomes.sql). -#}
{%- set specs = [
    {'name': 'contig_name', 'type': 'varchar'},
    {'name': 'contig', 'type': 'varchar'},
    {'name': 'start_0based', 'type': 'bigint'},
    {'name': 'position_1based', 'type': 'bigint'},
    {'name': 'reference_allele', 'type': 'varchar'},
    {'name': 'alternate_allele', 'type': 'varchar'},
    {'name': 'clinical_significance_raw', 'type': 'varchar'},
    {'name': 'disease_names', 'type': 'varchar'},
    {'name': 'gene_info', 'type': 'varchar'},
    {'name': 'gene_symbol', 'type': 'varchar'},
    {'name': 'review_status', 'type': 'varchar'},
    {'name': 'rsid', 'type': 'varchar'},
    {'name': 'clinvar_variation_id', 'type': 'varchar'},
    {'name': 'source_lake_run', 'type': 'varchar'},
] -%}
{%- set cols = mmh_source_columns(source('omics', 'annotations')) -%}
{%- if not (mmh_has_path(cols, 'contigname') and mmh_has_path(cols, 'alternatealleles') and mmh_has_path(cols, 'attributes')) -%}
{{ mmh_empty_result(specs, 'omics.annotations is absent in this lake') }}
{%- else -%}
with annotations as (
    select
        contigname,
        start,
        referenceallele,
        alternatealleles,
        {{ mmh_first('names') if mmh_has_path(cols, 'names') else 'cast(null as varchar)' }} as variation_id,
        {{ 'lake_run' if mmh_has_path(cols, 'lake_run') else 'cast(null as varchar)' }} as lake_run,
        {{ 'lake_source' if mmh_has_path(cols, 'lake_source') else 'cast(null as varchar)' }} as lake_source,
        {{ mmh_map_get('attributes', 'CLNSIG') }} as clnsig,
        {{ mmh_map_get('attributes', 'CLNDN') }} as clndn,
        {{ mmh_map_get('attributes', 'GENEINFO') }} as geneinfo,
        {{ mmh_map_get('attributes', 'CLNREVSTAT') }} as clnrevstat,
        {{ mmh_map_get('attributes', 'RS') }} as rs
    from {{ source('omics', 'annotations') }}
),

alleles as (
select
    cast(n.contigname as varchar) as contig_name,
    cast({{ normalize_contig('n.contigname') }} as varchar) as contig,
    cast(n.start as bigint) as start_0based,
    cast(n.start + 1 as bigint) as position_1based,
    cast(n.referenceallele as varchar) as reference_allele,
    cast(a.alternate_allele as varchar) as alternate_allele,
    cast(n.clnsig as varchar) as clinical_significance_raw,
    cast(n.clndn as varchar) as disease_names,
    cast(n.geneinfo as varchar) as gene_info,
    -- GENEINFO is `SYMBOL:GeneID|SYMBOL:GeneID`; the first symbol names the gene
    cast(nullif(split_part(split_part(n.geneinfo, '|', 1), ':', 1), '') as varchar) as gene_symbol,
    cast(n.clnrevstat as varchar) as review_status,
    cast(case when n.rs is null then null else 'rs' || n.rs end as varchar) as rsid,
    -- the VCF ID column of a ClinVar VCF is the ClinVar VariationID
    cast(n.variation_id as varchar) as clinvar_variation_id,
    cast(n.lake_run as varchar) as source_lake_run,
    cast(n.lake_source as varchar) as source_file
from annotations as n
cross join unnest(n.alternatealleles) with ordinality as a (alternate_allele, alt_index)
),

ranked as (
select
    l.*,
    row_number() over (
        partition by l.contig, l.start_0based, l.reference_allele, l.alternate_allele, l.clinvar_variation_id
        order by l.source_lake_run desc nulls last, l.source_file desc nulls last,
            l.clinical_significance_raw asc nulls last, l.review_status asc nulls last, l.gene_info asc nulls last,
            l.disease_names asc nulls last, l.rsid asc nulls last, l.contig_name asc
    ) as copy_rank
from alleles as l
)

select
    contig_name,
    contig,
    start_0based,
    position_1based,
    reference_allele,
    alternate_allele,
    clinical_significance_raw,
    disease_names,
    gene_info,
    gene_symbol,
    review_status,
    rsid,
    clinvar_variation_id,
    source_lake_run
from ranked
where copy_rank = 1
{%- endif %}
