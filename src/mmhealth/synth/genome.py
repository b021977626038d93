"""Per-patient VCF 4.2 (bgzip) over the panel, and the ClinVar-style annotation VCF.

Genotypes at the modelled markers come from the patient's profile (so they are the ones that shaped the
patient's risks); the other sites are drawn under Hardy-Weinberg from the panel frequencies. Some patients are
phased (`|`, as from a phased array pipeline), some calls are missing (`./.`), males are haploid on chrX."""

from __future__ import annotations

import numpy as np

from mmhealth import __version__
from mmhealth.synth import bgzf
from mmhealth.synth.model import REFERENCE_DATE
from mmhealth.synth.panel import CONTIG_LENGTHS, CONTIGS, Site, panel
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


def _draw_allele(rng: np.random.Generator, site: Site) -> int:
    r = rng.random()
    acc = 0.0
    for i, f in enumerate(site.alt_freqs, start=1):
        acc += f
        if r < acc:
            return i
    return 0


def vcf_text(seed: int, p: PatientProfile) -> str:
    rng = np.random.default_rng([seed, p.index, 5])
    phased = rng.random() < PHASED_SHARE
    male = p.sex == "male"
    seq_date = REFERENCE_DATE.fromordinal(sequencing_ord(seed, p)).strftime("%Y%m%d")
    out = [_header(p.id, seq_date)]
    for site in panel():
        haploid = male and site.chrom == "chrX"
        if site.key in p.genotype:
            a, b = p.genotype[site.key]
        else:
            a, b = _draw_allele(rng, site), _draw_allele(rng, site)
        dp = int(rng.integers(12, 80))
        gq = int(min(99, rng.integers(5, 140)))
        if rng.random() < MISSING_RATE:
            gt, fmt = ("." if haploid else "./."), f"{gt_missing(haploid)}:{dp}:."
        else:
            if haploid:
                gt = str(a)
            elif phased:
                gt = f"{a}|{b}"
            else:
                gt = f"{min(a, b)}/{max(a, b)}"
            fmt = f"{gt}:{dp}:{gq}"
        qual = f"{float(min(gq, 99)) * 1.5:.1f}"
        filt = "PASS" if gq >= 20 else "LowQual"
        info = f"GENE={site.gene}" if site.gene else "."
        out.append(f"{site.chrom}\t{site.pos}\t{site.rsid}\t{site.ref}\t{','.join(site.alts)}\t{qual}\t{filt}\t"
                   f"{info}\tGT:DP:GQ\t{fmt}\n")
    return "".join(out)


def gt_missing(haploid: bool) -> str:
    return "." if haploid else "./."


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
