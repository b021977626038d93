"""Awkward VCF input, written by the tests themselves (issue 15, "VCF"): the header quirks htslib reads and oxbow
refuses, record-level problems each on its own line, files nothing can read, and a bgzip stream cut in half.
Shared by tests/ingest/test_vcf_tolerance.py (fates and warnings per file) and tests/pipeline/test_realworld_lake.py
(the same files in one lake with every real test file, then dbt).

Every file is built from Python strings, so a test knows each file's records without asking project code."""

from __future__ import annotations

from pathlib import Path

HEAD = [
    "##fileformat=VCFv4.2",
    "##contig=<ID=chr1,length=248956422>",
    '##INFO=<ID=DP,Number=1,Type=Integer,Description="Total depth">',
    '##INFO=<ID=ANN,Number=.,Type=String,Description="Functional annotations">',
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
    '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Read depth">',
    '##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Genotype quality">',
]
CHROM = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1"


def rec(pos, info="DP=5", fmt="GT:DP:GQ", sample="0/1:7:30", ref="A", qual="50", chrom="chr1") -> str:
    return f"{chrom}\t{pos}\t.\t{ref}\tG\t{qual}\tPASS\t{info}\t{fmt}\t{sample}"


def vcf(head: list[str], body: list[str], chrom: str = CHROM) -> str:
    return "\n".join(head + [chrom] + body) + "\n"


# name -> file text. Line numbers: HEAD is 7 lines, #CHROM is line 8, the first record line 9 (plus extra header lines).
FILES = {
    # a ##FORMAT Description with backslash escapes: \" and \' (noodles accepts only \" and \\, so oxbow refuses
    # the header; htslib reads it)
    "escaped_quotes.vcf": vcf([*HEAD, r'##FORMAT=<ID=AD,Number=R,Type=Integer,'
                               r'Description="Allelic depths (\"AD\") of the \'ref\' and alt alleles">'],
                              [rec(10, "DP=5;ANN=x", "GT:AD", "0/1:3,4"), rec(20), rec(30)]),
    # ##INFO ANN declared twice (line 8): htslib keeps the first definition
    "duplicate_info.vcf": vcf(HEAD + ['##INFO=<ID=ANN,Number=1,Type=Integer,Description="again">'],
                              [rec(10, "DP=5;ANN=x|y"), rec(20, "ANN=z"), rec(30)]),
    # keys the header does not declare: INFO XX (2 records), flag YF (1), FORMAT ZZ (1)
    "undeclared_keys.vcf": vcf(HEAD, [rec(10, "DP=5;XX=abc;YF"), rec(20, "DP=6;XX=d", "GT:DP:GQ:ZZ", "0/1:7:30:q"),
                                      rec(30)]),
    # POS 0: a telomere, legal in VCF
    "pos_zero.vcf": vcf(HEAD, [rec(0), rec(10)]),
    # values of another Type than declared, a flag with a value, a header Type htslib reads as String
    "type_mismatch.vcf": vcf(HEAD + ['##INFO=<ID=FL,Number=0,Type=Flag,Description="a flag">',
                                     '##INFO=<ID=ZZ,Number=1,Type=Foo,Description="an unknown type">'],
                             [rec(10, "DP=abc"), rec(20, "DP=1.5;FL=3;ZZ=x"), rec(30, "DP=7;FL")]),
    # an empty sample name in the #CHROM line: htslib refuses the header too, the file is rejected whole
    "empty_sample_name.vcf": vcf(HEAD, [rec(10), rec(20), rec(30), rec(40)], CHROM + "\t"),
    # not a VCF at all
    "not_a_vcf.vcf": "sample\tvalue\nS1\t3\nS2\t4\n",
    # record-level problems, each on its own line (9..17); lines 9 and 18 are fine
    "bad_records.vcf": vcf(HEAD, [
        rec(10),
        rec("1x"),  # 10: POS
        rec(30, qual="high"),  # 11: QUAL
        rec(40, ref="AZ"),  # 12: REF
        rec(50, sample="0/x:7:30"),  # 13: GT
        rec(60, sample="0/1:deep:30"),  # 14: DP not an Integer
        rec(70, sample="0/1:7:30:5"),  # 15: more values than FORMAT
        "chr1\t80\t.\tA\tG",  # 16: 5 columns
        rec(90, sample=""),  # 17: an empty sample column (oxbow cannot parse the file with it)
        rec(100),
    ]),
    # positions beyond 32 bits (htslib keeps 64-bit positions)
    "long_contig.vcf": vcf(HEAD, [rec(3_000_000_000), rec(3_000_000_100)]),
    # IUPAC ambiguity code in REF: htslib reads it
    "iupac_ref.vcf": vcf(HEAD, [rec(10, ref="R"), rec(20)]),
}


def data_lines(text: str) -> list[int]:
    """Line numbers of the records of a VCF text (the independent count: not '#', not blank)."""
    return [i for i, line in enumerate(text.splitlines(), start=1) if line.strip() and not line.startswith("#")]



TRUNCATED = "truncated.vcf.gz"  # 3,000 records bgzipped, then the file cut in half


def write_awkward_vcf(folder: Path) -> Path:
    """Write every file of FILES and TRUNCATED into `folder`; returns it."""
    import pysam

    folder.mkdir(parents=True, exist_ok=True)
    for name, text in FILES.items():
        (folder / name).write_text(text)
    text = vcf(HEAD, [rec(1000 + 10 * i, f"DP={i}") for i in range(3000)])
    with pysam.BGZFile(str(folder / TRUNCATED), "wb") as fh:
        fh.write(text.encode())
    whole = (folder / TRUNCATED).read_bytes()
    (folder / TRUNCATED).write_bytes(whole[: len(whole) // 2])
    return folder
