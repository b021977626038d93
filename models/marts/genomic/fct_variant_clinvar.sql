{{ config(
    materialized='incremental', incremental_strategy=mmh_insert_or_merge_strategy(),
    merge_probe=['patient_key'], unique_key='variant_clinvar_id',
    on_schema_change='append_new_columns',
    post_hook="{{ mmh_drop_superseded_genomes(mmh_genome_file_id('patient_key', 'contig', 'source_file', 'source_lake_run'), by_patient=true) }}"
) }}
{#- One row per carried allele matched to ClinVar (normalized contig, 0-based start, reference, alternate), with
    clinical significance on the ordered scale 5 pathogenic .. 1 benign (0 = not on the pathogenicity axis).
    Incremental: merges the matches of calls from newer lake runs, and every call again when a newer ClinVar release
    was ingested (annotation_lake_run). Records a ClinVar release withdrew need a --full-refresh. Matches of calls
    from a genome file a newer file superseded are deleted after the MERGE (post-hook). -#}
-- depends_on: {{ ref('int_patient_spine') }}
-- depends_on: {{ ref('stg_omics__genome_files') }}
-- depends_on: {{ ref('stg_omics__annotations') }}
select
    cast(v.variant_clinvar_id as varchar) as variant_clinvar_id,
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
    cast(v.disease_names as varchar) as disease_names,
    cast(v.clinvar_variation_id as varchar) as clinvar_variation_id,
    cast(v.source_lake_run as varchar) as source_lake_run,
    cast(v.source_file as varchar) as source_file,
    cast(v.annotation_lake_run as varchar) as annotation_lake_run
from {{ ref('int_variant_clinvar') }} as v
{%- if not var('offline_catalog', false) and mmh_catalog_readable() and is_incremental() %}
    {%- set newer = mmh_newer_than_this(['source_lake_run'], 'v') %}
    {#- Every call is matched again only when a newer ClinVar release is in the lake. Asked first, because the
        condition on the annotation's run in an OR would keep the call-side filter from reaching the scan of
        fct_variant_call: the join would read every call on every scheduled run. -#}
    {%- set held = run_query('select cast(max(annotation_lake_run) as varchar) from ' ~ this).columns[0].values()[0] %}
    {%- if held is not none %}
        {%- set probe = 'select count(*) from ' ~ ref('stg_omics__annotations')
            ~ " where source_lake_run > '" ~ held ~ "'" %}
        {%- if run_query(probe).columns[0].values()[0] > 0 %}
            {%- do newer.append("v.annotation_lake_run > '" ~ held ~ "'") %}
        {%- endif %}
    {%- endif %}
where {{ newer | join(' or ') if newer else 'true' }}
{%- endif %}
