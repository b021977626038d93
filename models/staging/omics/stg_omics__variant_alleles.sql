{#- One row per sample, site and alternate allele (multi-allelic sites unnested), with how many copies of that
    allele the sample carries. Grain for matching ClinVar, whose records are per alternate allele. -#}
{%- set specs = [
    {'name': 'sample_id', 'type': 'varchar'},
    {'name': 'contig', 'type': 'varchar'},
    {'name': 'start_0based', 'type': 'bigint'},
    {'name': 'reference_allele', 'type': 'varchar'},
    {'name': 'alternate_allele', 'type': 'varchar'},
    {'name': 'alt_index', 'type': 'integer'},
    {'name': 'allele_dosage', 'type': 'integer'},
    {'name': 'n_called_alleles', 'type': 'integer'},
] -%}
{%- set cols = mmh_source_columns(source('omics', 'variants')) -%}
{%- if not (mmh_has_path(cols, 'sampleid') and mmh_has_path(cols, 'alternatealleles') and mmh_has_path(cols, 'calls')) -%}
{{ mmh_empty_result(specs, 'omics.variants with sampleid, alternatealleles and calls is absent in this lake') }}
{%- else -%}
with variants as (
    select sampleid, contigname, start, referenceallele, alternatealleles, calls
    from {{ source('omics', 'variants') }}
)

select
    cast(v.sampleid as varchar) as sample_id,
    cast({{ normalize_contig('v.contigname') }} as varchar) as contig,
    cast(v.start as bigint) as start_0based,
    cast(v.referenceallele as varchar) as reference_allele,
    cast(a.alternate_allele as varchar) as alternate_allele,
    cast(a.alt_index as integer) as alt_index,
    -- copies of this allele among the called alleles (allele index i = the i-th alternate allele); a call
    -- without genotype (calls null, e.g. a haploid `.`) carries none
    cast(coalesce({{ mmh_length(mmh_filter('v.calls', 'c', 'c = a.alt_index')) }}, 0) as integer) as allele_dosage,
    cast(coalesce({{ mmh_length(mmh_filter('v.calls', 'c', 'c >= 0')) }}, 0) as integer) as n_called_alleles
from variants as v
cross join unnest(v.alternatealleles) with ordinality as a (alternate_allele, alt_index)
{%- endif %}
