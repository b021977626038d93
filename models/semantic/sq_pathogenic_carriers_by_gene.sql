{#- Saved query `pathogenic_carriers_by_gene`, materialized: patients carrying at least one pathogenic or likely
    pathogenic ClinVar allele, per gene. Small counts are nulled and flagged. -#}
{{ config(contract={'enforced': true}) }}

with counts as (
    select
        gene_symbol as gene,
        count(distinct patient_key) as n_carriers
    from {{ ref('fct_variant_clinvar') }}
    where is_pathogenic_or_likely
    group by gene_symbol
)

select
    cast(gene as varchar) as gene,
    cast({{ suppress('n_carriers') }} as bigint) as pathogenic_variant_carriers,
    cast({{ is_small_cell('n_carriers') }} as boolean) as is_suppressed
from counts
