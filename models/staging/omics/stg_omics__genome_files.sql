{#- The VCFs behind each sample's calls: one row per sample, normalized contig and source file version, with the
    one whose calls count marked `is_current` (macros/genomics/genomes.sql: newest lake run, then the last source
    path). For analysts asking "which file are this patient's chr7 calls from, and what did it replace?". -#}
{{ mmh_genome_files(source('omics', 'variants')) }}
