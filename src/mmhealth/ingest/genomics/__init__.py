"""The genomics modality: VCF -> omics.variants / omics.annotations, FASTA -> omics.reference_contigs.

`reader.py` is the lake's entry point (`GenomicsReader`) with the fast-or-tolerant dispatch per VCF;
`vcf.py` is the fast path, `vcf_tolerant.py` the tolerant one, `vcf_header.py` / `vcf_raw.py` / `fasta.py` what
both read with."""
