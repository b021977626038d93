{#- What the Genomic sheet shows: genes x clinical significance x cases. One row per (gene, clinical
    significance) of carried ClinVar-matched alleles: carriers, distinct variants, and carriers who have each
    cardiovascular outcome (ever). ClinVar records that name no gene (intergenic or unassigned sites) are pooled in
    one row per significance whose gene_symbol says so, '(no gene: pooled records)', so that it never reads as a
    gene (the dashboards' layout.NO_GENE; tests/dashboards/test_semantic.py holds the two equal).
    Counts from 1 to small_cell_threshold - 1 are nulled; the row is flagged when any count is. -#}
with carriers as (
    select
        v.gene_symbol,
        v.clinical_significance,
        v.significance_rank,
        v.patient_key,
        -- a row, not a text key: building 3.7M strings to count them was a third of this model at 100,000 patients
        row(v.contig, v.position_1based, v.reference_allele, v.alternate_allele) as variant_key
    from {{ ref('fct_variant_clinvar') }} as v
),

outcomes as (
    select
        patient_key,
        max(case when condition_group = 'stroke' then 1 else 0 end) as stroke,
        max(case when condition_group = 'hypertension' then 1 else 0 end) as hypertension,
        max(case when condition_group = 'coronary_heart_disease' then 1 else 0 end) as coronary_heart_disease,
        max(case when condition_group = 'alzheimers' then 1 else 0 end) as alzheimers
    from {{ ref('fct_condition') }}
    group by patient_key
),

counts as (
    select
        coalesce(c.gene_symbol, '(no gene: pooled records)') as gene_symbol,
        c.clinical_significance,
        max(c.significance_rank) as significance_rank,
        count(distinct c.patient_key) as carrier_count,
        count(distinct c.variant_key) as variant_count,
        count(distinct case when o.stroke = 1 then c.patient_key end) as carriers_with_stroke,
        count(distinct case when o.hypertension = 1 then c.patient_key end) as carriers_with_hypertension,
        count(distinct case when o.coronary_heart_disease = 1 then c.patient_key end) as carriers_with_coronary_heart_disease,
        count(distinct case when o.alzheimers = 1 then c.patient_key end) as carriers_with_alzheimers
    from carriers as c
    left join outcomes as o on c.patient_key = o.patient_key
    group by coalesce(c.gene_symbol, '(no gene: pooled records)'), c.clinical_significance
)

select
    cast(gene_symbol as varchar) as gene_symbol,
    cast(clinical_significance as varchar) as clinical_significance,
    cast(significance_rank as integer) as significance_rank,
    cast({{ suppress('carrier_count') }} as bigint) as carrier_count,
    cast(case when {{ is_small_cell('carrier_count') }} then null else variant_count end as bigint) as variant_count,
    cast(case when {{ is_small_cell('carrier_count') }} then null else {{ suppress('carriers_with_stroke') }} end as bigint) as carriers_with_stroke,
    cast(case when {{ is_small_cell('carrier_count') }} then null else {{ suppress('carriers_with_hypertension') }} end as bigint) as carriers_with_hypertension,
    cast(case when {{ is_small_cell('carrier_count') }} then null else {{ suppress('carriers_with_coronary_heart_disease') }} end as bigint) as carriers_with_coronary_heart_disease,
    cast(case when {{ is_small_cell('carrier_count') }} then null else {{ suppress('carriers_with_alzheimers') }} end as bigint) as carriers_with_alzheimers,
    cast({{ is_small_cell('carrier_count') }} or {{ is_small_cell('carriers_with_stroke') }}
        or {{ is_small_cell('carriers_with_hypertension') }} or {{ is_small_cell('carriers_with_coronary_heart_disease') }}
        or {{ is_small_cell('carriers_with_alzheimers') }} as boolean) as is_suppressed
from counts
