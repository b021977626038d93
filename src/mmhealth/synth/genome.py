"""Per-patient VCF 4.2 (bgzip) over the panel, and the ClinVar-style annotation VCF.

Genotypes at the modelled markers come from the patient's profile (so they are the ones that shaped the
patient's risks); the other sites are drawn under Hardy-Weinberg from the panel frequencies. Some patients are
phased (`|`, as from a phased array pipeline), some calls are missing (`./.`), males are haploid on chrX."""

from __future__ import annotations

import functools

import numpy as np

from mmhealth import __version__
from mmhealth.synth import bgzf
from mmhealth.synth.model import REFERENCE_DATE
from mmhealth.synth.panel import CONTIG_LENGTHS, CONTIGS, panel
from mmhealth.synth.patients import DAYS_PER_YEAR, PatientProfile

MISSING_RATE = 0.01
PHASED_SHARE = 0.35  # share of patients whose calls are phased


def sequencing_ord(seed: int, p: PatientProfile) -> int:
    """The day the genome was reported: within the record, in the last eight years."""
    rng = np.random.default_rng([seed, p.index, 4])
    earliest = max(p.record_start_ord, p.birth_ord + 30)
    return max(earliest, p.end_ord - 1 - int(rng.uniform(0, 8) * DAYS_PER_YEAR))


def _header(sample: str, file_date: str) -> str:
    lines = [
        "##fileformat=VCFv4.2",
        f"##fileDate={file_date}",
        f"##source=mmhealth-synth {__version__}",
        "##reference=GRCh38",
        *(f"##contig=<ID={c},length={CONTIG_LENGTHS[c]},assembly=GRCh38>" for c in CONTIGS),
        '##FILTER=<ID=PASS,Description="All filters passed">',
        '##FILTER=<ID=LowQual,Description="Genotype quality below 20">',
        '##INFO=<ID=GENE,Number=1,Type=String,Description="Gene symbol of the panel target">',
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Read depth">',
        '##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Genotype quality">',
        f"#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t{sample}",
    ]
    return "\n".join(lines) + "\n"


@functools.cache
def _site_table():
    """Per-site constants, computed once: the fixed text of each line, cumulative ALT frequencies, and where
    the modelled markers and chrX sites are."""
    sites = panel()
    prefixes = [f"{s.chrom}\t{s.pos}\t{s.rsid}\t{s.ref}\t{','.join(s.alts)}\t" for s in sites]
    infos = [f"\tGENE={s.gene}\tGT:DP:GQ\t" if s.gene else "\t.\tGT:DP:GQ\t" for s in sites]
    width = max(len(s.alts) for s in sites)
    cum = np.ones((len(sites), width), dtype=float)  # P(allele index <= k) for k = 0..width-1
    for i, s in enumerate(sites):
        acc = 1.0 - sum(s.alt_freqs)
        for k in range(width):
            cum[i, k] = acc
            if k < len(s.alt_freqs):
                acc += s.alt_freqs[k]
    return sites, prefixes, infos, cum, np.array([s.chrom == "chrX" for s in sites])


def vcf_text(seed: int, p: PatientProfile) -> str:
    sites, prefixes, infos, cum, on_x = _site_table()
    n = len(sites)
    rng = np.random.default_rng([seed, p.index, 5])
    phased = rng.random() < PHASED_SHARE
    male = p.sex == "male"
    # All draws for the whole panel at once; then the modelled markers are overwritten with the profile's.
    alleles = (rng.random((n, 2))[:, :, None] >= cum[:, None, :]).sum(axis=2)
    dp = rng.integers(12, 80, size=n)
    gq = np.minimum(99, rng.integers(5, 140, size=n))
    missing = rng.random(n) < MISSING_RATE
    for i, site in enumerate(sites):
        if site.key in p.genotype:
            alleles[i] = p.genotype[site.key]
    seq_date = REFERENCE_DATE.fromordinal(sequencing_ord(seed, p)).strftime("%Y%m%d")
    out = [_header(p.id, seq_date)]
    for i in range(n):
        haploid = male and on_x[i]
        a, b = int(alleles[i, 0]), int(alleles[i, 1])
        g = int(gq[i])
        if missing[i]:
            fmt = f"{'.' if haploid else './.'}:{dp[i]}:."
        elif haploid:
            fmt = f"{a}:{dp[i]}:{g}"
        elif phased:
            fmt = f"{a}|{b}:{dp[i]}:{g}"
        else:
            fmt = f"{min(a, b)}/{max(a, b)}:{dp[i]}:{g}"
        out.append(f"{prefixes[i]}{g * 1.5:.1f}\t{'PASS' if g >= 20 else 'LowQual'}{infos[i]}{fmt}\n")
    return "".join(out)


def write_vcf(path, seed: int, p: PatientProfile) -> None:
    path.write_bytes(bgzf.compress(vcf_text(seed, p).encode()))


def clinvar_text() -> str:
    """A ClinVar-style VCF for the panel sites (contigs named as ClinVar names them: 1, not chr1)."""
    lines = [
        "##fileformat=VCFv4.1",
        f"##fileDate={REFERENCE_DATE.isoformat()}",
        "##source=ClinVar (synthetic, written by mmhealth-synth)",
        "##reference=GRCh38",
        *(f"##contig=<ID={c[3:]},length={CONTIG_LENGTHS[c]}>" for c in CONTIGS),
        '##INFO=<ID=ALLELEID,Number=1,Type=Integer,Description="the ClinVar Allele ID">',
        '##INFO=<ID=CLNDN,Number=.,Type=String,Description="ClinVar\'s preferred disease name">',
        '##INFO=<ID=CLNREVSTAT,Number=.,Type=String,Description="ClinVar review status">',
        '##INFO=<ID=CLNSIG,Number=.,Type=String,Description="Clinical significance">',
        '##INFO=<ID=CLNVC,Number=1,Type=String,Description="Variant type">',
        '##INFO=<ID=GENEINFO,Number=1,Type=String,Description="Gene(s) as symbol:NCBI gene id">',
        '##INFO=<ID=RS,Number=.,Type=String,Description="dbSNP ID (rs number without the rs)">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
    ]
    rng = np.random.default_rng(11)  # fixed: the annotation file is the same for every seed
    variation_id = 10000
    for site in panel():
        if not site.clnsig:
            continue
        for alt in site.alts:  # ClinVar writes one record per ALT allele
            variation_id += int(rng.integers(1, 500))
            vc = ("single_nucleotide_variant" if len(site.ref) == len(alt) == 1
                  else "Deletion" if len(alt) < len(site.ref) else "Insertion")
            revstat = ("criteria_provided,_multiple_submitters,_no_conflicts" if site.gene
                       else "criteria_provided,_single_submitter")
            info = [f"ALLELEID={variation_id + 7000}", f"CLNDN={site.clndn}", f"CLNREVSTAT={revstat}",
                    f"CLNSIG={site.clnsig}", f"CLNVC={vc}"]
            if site.gene:
                info.append(f"GENEINFO={site.gene}:{site.gene_id}")
            if site.rsid.startswith("rs"):
                info.append(f"RS={site.rsid[2:]}")
            lines.append(f"{site.clinvar_chrom}\t{site.pos}\t{variation_id}\t{site.ref}\t{alt}\t.\t.\t{';'.join(info)}")
    return "\n".join(lines) + "\n"


def write_clinvar(path) -> None:
    path.write_bytes(bgzf.compress(clinvar_text().encode()))
