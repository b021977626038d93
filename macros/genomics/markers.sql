{#- Marker alleles summarized per patient in patient_genomic_summary and features_cardiovascular. GRCh38 forward
    strand; `allele` is the allele whose copies are counted (the risk allele, or the tracked allele for a
    protective variant). Column names are stable: <column>_dosage. -#}
{% macro cv_marker_alleles() %}
  {{ return([
    {'rsid': 'rs1333049', 'gene': 'CDKN2B-AS1', 'allele': 'C', 'column': 'chr9p21_rs1333049', 'note': '9p21 coronary artery disease risk locus, risk allele C'},
    {'rsid': 'rs6025', 'gene': 'F5', 'allele': 'T', 'column': 'f5_rs6025', 'note': 'factor V Leiden (R534Q), thrombosis risk allele'},
    {'rsid': 'rs1801133', 'gene': 'MTHFR', 'allele': 'A', 'column': 'mthfr_rs1801133', 'note': 'MTHFR C677T, allele A (T on the gene strand)'},
    {'rsid': 'rs699', 'gene': 'AGT', 'allele': 'G', 'column': 'agt_rs699', 'note': 'angiotensinogen M235T, hypertension risk allele G'},
    {'rsid': 'rs10455872', 'gene': 'LPA', 'allele': 'G', 'column': 'lpa_rs10455872', 'note': 'lipoprotein(a) raising allele G'},
    {'rsid': 'rs11591147', 'gene': 'PCSK9', 'allele': 'T', 'column': 'pcsk9_rs11591147', 'note': 'PCSK9 R46L loss of function, LDL-lowering (protective) allele T'},
  ]) }}
{% endmacro %}

{#- Copies of `allele` at marker `rsid`, inside a group by patient over site_dosage rows: the alternate-allele
    dosage when the counted allele is an alternate, called alleles minus alternate copies when it is the reference,
    null when the site was not called. -#}
{% macro marker_dosage(rsid, allele, alt_column) -%}
max(case when variant_name = '{{ rsid }}' and n_called_alleles > 0 then
    case when reference_allele = '{{ allele }}' then n_called_alleles - total_alternate_dosage
         else coalesce({{ alt_column }}, 0) end
end)
{%- endmacro %}
