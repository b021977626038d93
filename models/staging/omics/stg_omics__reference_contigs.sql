{#- One row per reference contig the variants were checked against. -#}
{%- set specs = [
    {'name': 'contig_name', 'expr': 'r.name', 'type': 'varchar', 'needs': ['name']},
    {'name': 'contig_length', 'expr': 'r.length', 'type': 'bigint', 'needs': ['length']},
    {'name': 'checksum', 'expr': 'r.checksum', 'type': 'varchar', 'needs': ['checksum']},
] -%}
with source as (
{{ mmh_select_source(source('omics', 'reference_contigs'), specs) }}
)

select
    contig_name,
    {{ normalize_contig('contig_name') }} as contig,
    contig_length,
    checksum
from source
where contig_name is not null
