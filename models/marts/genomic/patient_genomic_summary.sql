{{ config(
    materialized='incremental', incremental_strategy='merge', unique_key='patient_key',
    on_schema_change='append_new_columns'
) }}
{#- One row per genotyped patient: pathogenic / likely-pathogenic carried alleles (total and the genes they are
    in), APOE genotype, and marker-allele dosages. Incremental: recomputes the patients with calls or ClinVar
    matches from newer lake runs (mmh_changed_patients) and merges their rows. -#}
{%- set markers = cv_marker_alleles() -%}
{%- set changed = mmh_changed_patients('patient_key', [
    (ref('fct_variant_call'), ['source_lake_run']),
    (ref('fct_variant_clinvar'), ['source_lake_run', 'annotation_lake_run'])]) -%}
with calls as (
    select
        patient_key,
        max(source_lake_run) as calls_lake_run,
        count(*) as n_allele_records,
        sum(case when allele_dosage > 0 then 1 else 0 end) as n_alternate_alleles_carried,
        sum(case when zygosity = 'no_call' then 1 else 0 end) as n_no_calls
    from {{ ref('fct_variant_call') }}
    where {{ changed }}
    group by patient_key
),

clinvar as (
    select
        patient_key,
        count(*) as n_clinvar_matches,
        sum(case when clinical_significance in ('pathogenic', 'pathogenic_likely_pathogenic') then 1 else 0 end) as n_pathogenic,
        sum(case when clinical_significance = 'likely_pathogenic' then 1 else 0 end) as n_likely_pathogenic,
        count(distinct case when is_pathogenic_or_likely then gene_symbol end) as n_p_lp_genes,
        max(significance_rank) as max_significance_rank,
        max(annotation_lake_run) as annotation_lake_run
    from {{ ref('fct_variant_clinvar') }}
    where {{ changed }}
    group by patient_key
),

genes as (
    -- per-gene counts folded into one sorted text value, e.g. `F5:1;MTHFR:2`
    select patient_key, {{ mmh_list_join('array_agg(gene_count order by gene_count)', ';') }} as p_lp_gene_counts
    from (
        select patient_key, gene_symbol || ':' || cast(count(*) as varchar) as gene_count
        from {{ ref('fct_variant_clinvar') }}
        where is_pathogenic_or_likely and gene_symbol is not null and {{ changed }}
        group by patient_key, gene_symbol
    ) as g
    group by patient_key
),

markers as (
    select * from {{ ref('int_genomic_markers') }}
    where {{ changed }}
)

select
    cast(c.patient_key as varchar) as patient_key,
    cast(c.n_allele_records as bigint) as n_allele_records,
    cast(c.n_alternate_alleles_carried as bigint) as n_alternate_alleles_carried,
    cast(c.n_no_calls as bigint) as n_no_calls,
    cast(coalesce(v.n_clinvar_matches, 0) as bigint) as n_clinvar_matches,
    cast(coalesce(v.n_pathogenic, 0) as bigint) as n_pathogenic,
    cast(coalesce(v.n_likely_pathogenic, 0) as bigint) as n_likely_pathogenic,
    cast(coalesce(v.n_p_lp_genes, 0) as bigint) as n_p_lp_genes,
    cast(g.p_lp_gene_counts as varchar) as p_lp_gene_counts,
    cast(v.max_significance_rank as integer) as max_significance_rank,
    cast(m.apoe_genotype as varchar) as apoe_genotype,
    cast(m.apoe_e4_dosage as integer) as apoe_e4_dosage,
    cast(m.apoe_e2_dosage as integer) as apoe_e2_dosage
    {%- for mk in markers %},
    cast(m.{{ mk.column }}_dosage as integer) as {{ mk.column }}_dosage
    {%- endfor %},
    -- Trino's greatest() is null when an argument is null, DuckDB's skips nulls: the coalesce agrees on both
    cast(coalesce(greatest(c.calls_lake_run, v.annotation_lake_run), c.calls_lake_run, v.annotation_lake_run)
        as varchar) as source_lake_run
from calls as c
left join clinvar as v on c.patient_key = v.patient_key
left join genes as g on c.patient_key = g.patient_key
left join markers as m on c.patient_key = m.patient_key
