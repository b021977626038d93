"""The genotyping panel (about 200 sites) and the small reference FASTA that covers it.

The panel is a fixed product, like a real array: it does not change with the seed (only genotypes do).
Named markers carry GRCh38 positions as published for their rsIDs (written down from memory in an offline
build, so treat them as approximate); the other sites are synthetic filler drawn once from a fixed generator.
The reference sequence around every site is synthetic too: random bases with each site's REF written in, so
that REF alleles match the FASTA by construction."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

PANEL_SEED = 20240607  # fixed: the panel is the same for every data set
FLANK = 100  # bases of reference kept either side of each site

CONTIGS = tuple(f"chr{i}" for i in range(1, 23)) + ("chrX",)
# GRCh38 primary assembly lengths, for the VCF ##contig lines.
CONTIG_LENGTHS = {
    "chr1": 248956422, "chr2": 242193529, "chr3": 198295559, "chr4": 190214555, "chr5": 181538259,
    "chr6": 170805979, "chr7": 159345973, "chr8": 145138636, "chr9": 138394717, "chr10": 133797422,
    "chr11": 135086622, "chr12": 133275309, "chr13": 114364328, "chr14": 107043718, "chr15": 101991189,
    "chr16": 90338345, "chr17": 83257441, "chr18": 80373285, "chr19": 58617616, "chr20": 64444167,
    "chr21": 46709983, "chr22": 50818468, "chrX": 156040895,
}


@dataclass(frozen=True)
class Site:
    chrom: str  # chr-prefixed, as in the per-patient VCFs
    pos: int  # 1-based
    rsid: str  # "." for filler
    ref: str
    alts: tuple[str, ...]
    alt_freqs: tuple[float, ...]
    gene: str  # "" for intergenic filler
    gene_id: int  # NCBI Gene id, 0 when none
    clnsig: str  # ClinVar clinical significance; "" = not in the ClinVar file
    clndn: str
    key: str = ""  # name the risk model uses for this marker's ALT dosage ("" = no effect)

    @property
    def clinvar_chrom(self) -> str:
        return self.chrom[3:]


# (chrom, pos, rsid, ref, alt, alt frequency, gene, gene id, CLNSIG, CLNDN, model key)
_NAMED = (
    ("chr19", 44908684, "rs429358", "T", "C", 0.15, "APOE", 348, "risk_factor", "Alzheimer_disease", "apoe_rs429358"),
    ("chr19", 44908822, "rs7412", "C", "T", 0.08, "APOE", 348, "other", "APOE2_isoform", "apoe_rs7412"),
    ("chr19", 44919689, "rs4420638", "A", "G", 0.18, "APOC1", 341, "risk_factor", "Alzheimer_disease", ""),
    ("chr9", 22125504, "rs1333049", "G", "C", 0.47, "CDKN2B-AS1", 100048912, "risk_factor",
     "Coronary_artery_disease", "chr9p21_rs1333049_c"),
    ("chr9", 22098575, "rs4977574", "A", "G", 0.46, "CDKN2B-AS1", 100048912, "risk_factor",
     "Coronary_artery_disease", ""),
    ("chr1", 169549811, "rs6025", "C", "T", 0.02, "F5", 2153, "Pathogenic",
     "Thrombophilia_due_to_activated_protein_C_resistance", "f5_rs6025_t"),
    ("chr11", 46739505, "rs1799963", "G", "A", 0.01, "F2", 2147, "Pathogenic",
     "Thrombophilia_due_to_thrombin_defect", ""),
    ("chr1", 11796321, "rs1801133", "G", "A", 0.33, "MTHFR", 4524, "risk_factor",
     "Homocystinuria_due_to_methylene_tetrahydrofolate_reductase_deficiency", ""),
    ("chr1", 11794419, "rs1801131", "T", "G", 0.30, "MTHFR", 4524, "Benign", "not_provided", ""),
    ("chr1", 230710048, "rs699", "A", "G", 0.42, "AGT", 183, "risk_factor", "Essential_hypertension",
     "agt_rs699_g"),
    ("chr3", 148742201, "rs5186", "A", "C", 0.28, "AGTR1", 185, "risk_factor", "Essential_hypertension", ""),
    ("chr6", 160589086, "rs10455872", "A", "G", 0.07, "LPA", 4018, "risk_factor", "Coronary_artery_disease",
     "lpa_rs10455872_g"),
    ("chr6", 160540105, "rs3798220", "T", "C", 0.02, "LPA", 4018, "risk_factor", "Coronary_artery_disease", ""),
    ("chr1", 55039974, "rs11591147", "G", "T", 0.015, "PCSK9", 255738, "protective",
     "Low_density_lipoprotein_cholesterol_level", "pcsk9_rs11591147_t"),
    ("chr19", 11116926, "rs688", "C", "T", 0.40, "LDLR", 3949, "Benign", "Familial_hypercholesterolemia",
     "ldlr_rs688_t"),
    ("chr2", 21006288, "rs5742904", "C", "T", 0.002, "APOB", 338, "Pathogenic",
     "Familial_hypercholesterolemia_2", ""),
    ("chr19", 15192006, "rs28933696", "G", "A", 0.002, "NOTCH3", 4854, "Pathogenic",
     "Cerebral_autosomal_dominant_arteriopathy_with_subcortical_infarcts_and_leukoencephalopathy", ""),
    ("chr4", 110789013, "rs2200733", "C", "T", 0.12, "PITX2", 5308, "risk_factor", "Atrial_fibrillation",
     "pitx2_rs2200733_t"),
    ("chr7", 150999023, "rs1799983", "G", "T", 0.30, "NOS3", 4846, "risk_factor", "Coronary_artery_disease", ""),
    ("chr16", 56959412, "rs3764261", "C", "A", 0.32, "CETP", 1071, "Benign", "not_provided", ""),
    ("chr11", 116792991, "rs662799", "G", "A", 0.06, "APOA5", 116519, "risk_factor",
     "Hypertriglyceridemia", ""),
)

N_FILLER = 179
N_MULTIALLELIC = 6
N_INDEL = 4
_BASES = np.array(list("ACGT"))


def _filler(rng: np.random.Generator, taken: set[tuple[str, int]]) -> list[Site]:
    weights = np.array([CONTIG_LENGTHS[c] for c in CONTIGS], dtype=float)
    weights /= weights.sum()
    chroms = rng.choice(len(CONTIGS), size=N_FILLER, p=weights)
    chroms[: len(CONTIGS)] = np.arange(len(CONTIGS))  # every contig gets at least one site
    kinds = ["snv"] * (N_FILLER - N_MULTIALLELIC - N_INDEL) + ["multi"] * N_MULTIALLELIC + ["del", "ins"] * (N_INDEL // 2)
    order = rng.permutation(N_FILLER)
    sites = []
    for i, ci in enumerate(chroms):
        chrom = CONTIGS[ci]
        while True:
            pos = int(rng.integers(1_000_000, CONTIG_LENGTHS[chrom] - 1_000_000))
            if (chrom, pos) not in taken:
                taken.add((chrom, pos))
                break
        kind = kinds[order[i]]
        ref = str(rng.choice(_BASES))
        others = [b for b in "ACGT" if b != ref]
        freq = float(np.round(rng.uniform(0.02, 0.5), 3))
        if kind == "multi":
            a1, a2 = rng.choice(others, size=2, replace=False)
            alts, freqs = (str(a1), str(a2)), (freq, float(np.round(freq / 3, 3)))
        elif kind == "del":
            ref = ref + str(rng.choice(_BASES))  # REF two bases, ALT the first: a one-base deletion
            alts, freqs = (ref[0],), (freq,)
        elif kind == "ins":
            alts, freqs = (ref + str(rng.choice(_BASES)),), (freq,)
        else:
            alts, freqs = (str(rng.choice(others)),), (freq,)
        # Most filler sites have a ClinVar-style record; a quarter are absent, as for real array content.
        roll = rng.random()
        clnsig = "" if roll < 0.25 else ("Benign" if roll < 0.6 else "Likely_benign" if roll < 0.8
                                         else "Uncertain_significance")
        sites.append(Site(chrom, pos, ".", ref, alts, freqs, "", 0, clnsig, "not_provided" if clnsig else ""))
    return sites


@functools.cache
def panel() -> tuple[Site, ...]:
    """All panel sites, sorted by contig (chr1..chr22, chrX) then position."""
    named = [Site(c, p, rs, r, (a,), (f,), g, gid, sig, dn, key) for c, p, rs, r, a, f, g, gid, sig, dn, key in _NAMED]
    rng = np.random.default_rng(PANEL_SEED)
    sites = named + _filler(rng, {(s.chrom, s.pos) for s in named})
    rank = {c: i for i, c in enumerate(CONTIGS)}
    return tuple(sorted(sites, key=lambda s: (rank[s.chrom], s.pos)))


@dataclass(frozen=True)
class Region:
    chrom: str
    start: int  # 1-based, inclusive
    end: int  # inclusive
    sequence: str

    @property
    def name(self) -> str:
        # samtools faidx names a sub-sequence "chrom:start-end"; we use the same convention.
        return f"{self.chrom}:{self.start}-{self.end}"


@functools.cache
def reference_regions() -> tuple[Region, ...]:
    """Synthetic reference windows around the panel sites, with every REF allele written in."""
    rng = np.random.default_rng(PANEL_SEED + 1)
    windows: list[list] = []
    for s in panel():
        start, end = s.pos - FLANK, s.pos + len(s.ref) - 1 + FLANK
        if windows and windows[-1][0] == s.chrom and start <= windows[-1][2] + 1:
            windows[-1][2] = max(windows[-1][2], end)
            windows[-1][3].append(s)
        else:
            windows.append([s.chrom, start, end, [s]])
    regions = []
    for chrom, start, end, sites in windows:
        seq = _BASES[rng.integers(0, 4, size=end - start + 1)]
        for s in sites:
            off = s.pos - start
            seq[off:off + len(s.ref)] = list(s.ref)
        regions.append(Region(chrom, start, end, "".join(seq)))
    return tuple(regions)


def write_fasta(path, line_width: int = 60) -> None:
    """Write the reference FASTA and its samtools-compatible .fai index (computed, not shelled out)."""
    fasta_lines: list[str] = []
    fai_lines: list[str] = []
    offset = 0
    for region in reference_regions():
        header = f">{region.name}\n"
        offset += len(header)
        seq = region.sequence
        fai_lines.append(f"{region.name}\t{len(seq)}\t{offset}\t{line_width}\t{line_width + 1}\n")
        body = "".join(seq[i:i + line_width] + "\n" for i in range(0, len(seq), line_width))
        fasta_lines.append(header + body)
        offset += len(body)
    path.write_text("".join(fasta_lines))
    path.with_name(path.name + ".fai").write_text("".join(fai_lines))


def region_for(chrom: str, pos: int) -> Region | None:
    for r in reference_regions():
        if r.chrom == chrom and r.start <= pos <= r.end:
            return r
    return None


def marker_frequencies() -> dict[str, float]:
    """ALT frequency of every marker the risk model uses, by model key."""
    return {s.key: s.alt_freqs[0] for s in panel() if s.key}
