"""Benchmark `mmhealth ingest` against the tools it is built on, each ratio measured in one run on the same files.

- FHIR: DuckDB's own `read_json` -> Parquet (zstd) copy of each NDJSON file, vs `mmhealth ingest --modality
  fhir` of the same folder into a fresh lake (checksums, schema inference over every record, quarantine
  checks, HealthLake reshaping, manifest and catalog included).
- VCF: oxbow's raw read of a VCF to Arrow batches (all samples), vs `mmhealth ingest --modality genomics`
  of that file (HealthOmics reshaping, INFO map, Parquet writing, commit included).
- Memory: peak RSS of `mmhealth ingest` (a child process) on a ~2 GB NDJSON input.

Ratios are baseline time / ingest time (1.0 = as fast as the baseline; higher is better). The machine is shared,
so each pair runs back to back, `--repeat` times, and both wall-clock and CPU time (all threads of the process)
are reported; the best of the repeats is the figure least disturbed by other load.

    .venv/bin/python scripts/bench_ingest.py --fhir-patients 5000 --repeat 3 --memory-gb 2
"""

from __future__ import annotations

import argparse
import gzip
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def timed(fn) -> tuple[float, float]:
    t0, c0 = time.perf_counter(), cpu_seconds()
    fn()
    return time.perf_counter() - t0, cpu_seconds() - c0


def mb(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 1e6
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def generate_fhir(scratch: Path, patients: int) -> Path:
    out = scratch / f"gen-{patients}"
    if not (out / "manifest.json").exists():
        shutil.rmtree(out, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "mmhealth.cli", "generate", "--out", str(out), "--patients",
                        str(patients), "--genomes", "0", "--imaging", "0", "--quiet"], check=True)
    src = scratch / f"fhir-{patients}"
    if not src.exists():
        src.mkdir(parents=True)
        for f in sorted((out / "fhir").glob("*.ndjson")):
            if f.stat().st_size:
                os.link(f, src / f.name)
    return src


def bench_fhir(src: Path, scratch: Path, repeat: int) -> dict:
    import duckdb

    from mmhealth.lake.ingest import run_ingest

    files = sorted(src.glob("*.ndjson"))
    base_out, lake = scratch / "fhir-baseline", scratch / "fhir-lake"

    def baseline():
        shutil.rmtree(base_out, ignore_errors=True)
        base_out.mkdir()
        con = duckdb.connect()
        for f in files:
            con.execute(f"COPY (SELECT * FROM read_json('{f}', format='newline_delimited')) "
                        f"TO '{base_out / (f.stem + '.parquet')}' (FORMAT parquet, COMPRESSION zstd)")
        con.close()

    def ingest():
        shutil.rmtree(lake, ignore_errors=True)
        run_ingest(src, str(lake), ["fhir"], {}, progress=False)

    return _pairs(baseline, ingest, repeat) | {"input_mb": mb(src), "files": len(files),
                                              "baseline_parquet_mb": mb(base_out), "lake_mb": mb(lake)}


def _pairs(baseline, ingest, repeat: int, warmup: int = 0) -> dict:
    for _ in range(warmup):  # untimed: first-call imports and caches, on both sides
        baseline(), ingest()
    runs = []
    for _ in range(repeat):
        b, i = timed(baseline), timed(ingest)
        runs.append({"base_wall": b[0], "base_cpu": b[1], "ingest_wall": i[0], "ingest_cpu": i[1]})
    wall = [r["base_wall"] / r["ingest_wall"] for r in runs]
    cpu = [r["base_cpu"] / r["ingest_cpu"] for r in runs]
    return {"runs": runs, "wall_ratio_best": max(wall), "wall_ratio_median": statistics.median(wall),
            "cpu_ratio_best": max(cpu), "cpu_ratio_median": statistics.median(cpu)}


def make_vcf(testdata: Path, scratch: Path, copies: int, samples: int = 3) -> Path:
    """A VCF of `copies` x the GIAB trio's records (positions shifted so every site is distinct), keeping the
    first `samples` samples: 1 is the generator's layout (one VCF per person), 3 the trio as published."""
    import pysam

    out = scratch / f"vcf-{samples}" / f"trio-x{copies}-s{samples}.vcf.gz"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    src = testdata / "vcf/slivar/ashk-trio.vcf.gz"
    with gzip.open(src, "rt") as fh:
        lines = fh.read().splitlines()
    keep = 9 + samples
    header = [ln for ln in lines if ln.startswith("##")] + \
        ["\t".join(ln.split("\t")[:keep]) for ln in lines if ln.startswith("#CHROM")]
    records = [ln.split("\t")[:keep] for ln in lines if not ln.startswith("#")]
    span = max(int(r[1]) for r in records) + 1000
    with pysam.BGZFile(str(out), "wb") as dst:
        dst.write(("\n".join(header) + "\n").encode())
        for k in range(copies):
            chunk = []
            for r in records:
                r2 = list(r)
                r2[1] = str(int(r[1]) + k * span)
                chunk.append("\t".join(r2))
            dst.write(("\n".join(chunk) + "\n").encode())
    return out


def bench_vcf(vcf: Path, scratch: Path, repeat: int) -> dict:
    import oxbow
    import pyarrow as pa

    from mmhealth.lake.ingest import run_ingest

    lake = scratch / f"vcf-lake-{vcf.parent.name}"
    stats = {}

    def baseline():
        src = oxbow.from_vcf(str(vcf), samples="*", samples_nested=True)
        stats["rows"] = sum(pa.record_batch(b).num_rows for b in src.batches())

    def ingest():
        shutil.rmtree(lake, ignore_errors=True)
        report = run_ingest(vcf.parent, str(lake), ["genomics"], {}, progress=False)
        stats["variant_rows"] = report.tables.get("omics.variants", 0)

    # One untimed pair first: the first ingest of a process imports the lake's modules (~0.3 s CPU), which is
    # start-up, not VCF work (the baseline's oxbow import is outside its timing too).
    return _pairs(baseline, ingest, repeat, warmup=1) | {"input_mb": mb(vcf), "sites": stats["rows"],
                                              "variant_rows": stats["variant_rows"]}


def make_big_ndjson(src: Path, scratch: Path, gigabytes: float) -> Path:
    """~`gigabytes` of NDJSON: the generated Observation file repeated, in one file (the hardest case)."""
    out = scratch / "mem-src"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    target = int(gigabytes * 1e9)
    seed = src / "Observation.ndjson"
    with open(out / "Observation.ndjson", "wb") as dst:
        written = 0
        while written < target:
            with open(seed, "rb") as fh:
                shutil.copyfileobj(fh, dst, 1 << 22)
            written += seed.stat().st_size
    return out


def bench_memory(big: Path, scratch: Path) -> dict:
    lake = scratch / "mem-lake"
    shutil.rmtree(lake, ignore_errors=True)
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "mmhealth.cli", "ingest", str(big), "--lake", str(lake),
                             "--modality", "fhir", "--quiet", "--json"], stdout=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    out = proc.stdout.read().decode()
    proc.stdout.close()
    if status != 0:
        raise SystemExit(f"ingest of {big} failed: status {status}")
    import json

    doc = json.loads(out)
    return {"input_mb": mb(big), "peak_rss_mb": usage.ru_maxrss / 1024, "wall_s": wall,
            "loaded": doc["modalities"]["fhir"]["loaded"]}


def ratio_table(result: dict, baseline: str, target: str) -> list[str]:
    """One row per run (baseline against ingest, wall and CPU) and the best / median ratios."""
    lines = [f"| run | {baseline} wall s | ingest wall s | wall ratio | {baseline} CPU s | ingest CPU s | CPU ratio |",
             "|---|---|---|---|---|---|---|"]
    for i, r in enumerate(result["runs"], 1):
        lines.append(f"| {i} | {r['base_wall']:.2f} | {r['ingest_wall']:.2f} | {r['base_wall'] / r['ingest_wall']:.2f} | "
                     f"{r['base_cpu']:.2f} | {r['ingest_cpu']:.2f} | {r['base_cpu'] / r['ingest_cpu']:.2f} |")
    return lines + ["", f"Ratio ({baseline} / ingest): wall best {result['wall_ratio_best']:.2f}, median "
                        f"{result['wall_ratio_median']:.2f}; CPU best {result['cpu_ratio_best']:.2f}, median "
                        f"{result['cpu_ratio_median']:.2f}. {target}", ""]


def report_md(fhir: dict | None, vcfs: list | None, mem: dict | None, command: str) -> str:
    lines = ["# Ingest benchmarks", "", f"Command: `{command}`", "",
             f"Machine: {os.cpu_count()} CPUs (shared with other work while measured); "
             f"Python {sys.version.split()[0]}.", ""]
    if fhir:
        lines += [f"## FHIR: ingest vs DuckDB read_json -> Parquet ({fhir['input_mb']:.0f} MB generated NDJSON, "
                  f"{fhir['files']} files)", ""]
        lines += ratio_table(fhir, "baseline", "Target >= 0.7 (goal 0.8).")
    for vcf in vcfs or []:
        lines += [f"## VCF, {vcf['samples']} sample(s): ingest vs oxbow raw read to Arrow ({vcf['input_mb']:.1f} MB "
                  f"bgzip VCF, {vcf['sites']:,} sites, {vcf['variant_rows']:,} variant rows)", ""]
        lines += ratio_table(vcf, "oxbow", "Target >= 0.8.")
    if mem:
        lines += [f"## Memory: {mem['input_mb'] / 1000:.2f} GB NDJSON in one file", "",
                  f"Peak RSS of `mmhealth ingest`: **{mem['peak_rss_mb']:.0f} MB** (target < 2048 MB); "
                  f"{mem['loaded']:,} resources loaded in {mem['wall_s']:.0f} s wall.", ""]
    lines += NOTES
    return "\n".join(lines)


NOTES = [
    "## Reading these numbers", "",
    "- Wall-clock ratios swing run to run because the 2 cores are shared with other jobs while measuring; CPU",
    "  time (all threads of the process) is the steadier figure of the work each side does.",
    "- FHIR ingest does more than the baseline: sha256 of each file, a key count of the source bytes and of the",
    "  Parquet written (the proof that the 2,048-record schema sample missed nothing, else the file is redone",
    "  with every record; the source side counts every colon that follows a quote or whitespace, numpy, one",
    "  pass), the resource-type/id check (id read as JSON: a number is not an id), a duplicate-id check",
    "  (count(DISTINCT id) of the part), a depth check of the 2,048 sampled lines and of the part's JSON text,",
    "  HealthLake renaming, manifest and catalog. The tolerant paths (quarantine, recovery, record numbering)",
    "  run only for files that need them. It wins back time by reading FHIR dates, instants and ids as strings",
    "  (the baseline parses them into DATE/TIMESTAMP/UUID).",
    "- VCF: the baseline is oxbow reading every field (all INFO and FORMAT fields, all samples) into Arrow on one",
    "  thread. Ingest asks oxbow for the fixed columns and the GT/DP/GQ/AD FORMAT fields only (parsing PL & co.",
    "  was a third of oxbow's time on these GATK files) and no INFO: pyarrow's CSV reader streams the same",
    "  records' POS, QUAL, INFO, FORMAT and sample columns as text beside it (a second decompression, ~0.2 s per",
    "  200k sites), and the attributes map is built from the INFO text with Arrow string kernels - every key kept,",
    "  values as written, which oxbow's typed INFO (undeclared keys and other-typed values left out) did not give.",
    "  Building it from text costs less than oxbow's typed INFO parsing plus casting it back did, which pays for",
    "  the text reader and the checks (POS, QUAL, REF, GT syntax, typed FORMAT values, INFO types and undeclared",
    "  keys, all Arrow kernels). Both readers run on a second thread without the GIL, reshaping on the main thread,",
    "  Parquet (zstd) on a third, so the wall ratio can exceed 1 on idle cores; on the shared machine it tracks",
    "  CPU. The tolerant path (a file oxbow refuses) never runs on these clean files. One untimed warm-up pair",
    "  runs first (first-call imports). Before the text reader (issue 15) the CPU ratios were 0.87 (1 sample) and",
    "  0.98 (3 samples); before the first tuning (all FORMAT fields, reshaping in DuckDB, one thread) 0.66-0.68.",
    "  The benchmark file's positions pass 2^31 from its 9th copy on; oxbow keeps POS in 32 bits, so `start` now",
    "  comes from the text (htslib's 64-bit positions) - before, those sites were loaded with negative starts.",
    "- Memory: DuckDB runs with a 1 GB memory limit and spills to the run's staging folder; oxbow reads VCFs in",
    "  batches of 32,768 sites, at most 2 parsed and 2 reshaped batches waiting. The figure is the peak RSS of",
    "  the whole `mmhealth ingest` process.", "",
]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--scratch", type=Path, default=REPO / "bench-scratch")
    p.add_argument("--testdata", type=Path, default=Path(os.environ.get("MMHEALTH_TESTDATA", REPO.parent / "shared/testdata")))
    p.add_argument("--fhir-patients", type=int, default=5000)
    p.add_argument("--vcf-copies", type=int, default=20, help="copies of the GIAB trio's 9,940 sites")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--memory-gb", type=float, default=2.0, help="0 skips the memory run")
    p.add_argument("--only", choices=["fhir", "vcf", "memory"], action="append")
    p.add_argument("--write", type=Path, help="also write the Markdown report here")
    p.add_argument("--keep", action="store_true", help="keep bench-scratch (default: delete the big inputs)")
    args = p.parse_args(argv)
    only = set(args.only or ["fhir", "vcf", "memory"])
    args.scratch.mkdir(parents=True, exist_ok=True)
    fhir = vcf = mem = None
    src = generate_fhir(args.scratch, args.fhir_patients) if only & {"fhir", "memory"} else None
    if "fhir" in only:
        fhir = bench_fhir(src, args.scratch, args.repeat)
        print(f"FHIR ratio wall best {fhir['wall_ratio_best']:.2f} cpu best {fhir['cpu_ratio_best']:.2f}", file=sys.stderr)
    if "vcf" in only:
        vcf = []
        for samples in (1, 3):
            res = bench_vcf(make_vcf(args.testdata, args.scratch, args.vcf_copies, samples), args.scratch, args.repeat)
            vcf.append(res | {"samples": samples})
            print(f"VCF ({samples} samples) ratio wall best {res['wall_ratio_best']:.2f} cpu best "
                  f"{res['cpu_ratio_best']:.2f}", file=sys.stderr)
    if "memory" in only and args.memory_gb > 0:
        big = make_big_ndjson(src, args.scratch, args.memory_gb)
        try:
            mem = bench_memory(big, args.scratch)
        finally:
            if not args.keep:
                shutil.rmtree(big, ignore_errors=True)
                shutil.rmtree(args.scratch / "mem-lake", ignore_errors=True)
    command = "python scripts/bench_ingest.py " + " ".join(argv if argv is not None else sys.argv[1:])
    md = report_md(fhir, vcf, mem, command.strip())
    print(md)
    if args.write:
        if args.only and args.write.exists():
            md = merge_report(args.write.read_text(), md, command.strip())
        args.write.write_text(md.rstrip("\n") + "\n")
    return 0


def _sections(md: str) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """The lines before the first `## ` heading, and each section as (heading, lines)."""
    head: list[str] = []
    sections: list[tuple[str, list[str]]] = []
    for line in md.splitlines():
        if line.startswith("## "):
            sections.append((line, []))
        elif sections:
            sections[-1][1].append(line)
        else:
            head.append(line)
    return head, sections


def merge_report(old: str, new: str, command: str) -> str:
    """`old` with the sections of the kinds this run measured (FHIR / VCF / Memory) replaced by `new`'s, each
    replaced section stamped with this run's command (the header's command belongs to the other sections)."""
    kind = lambda heading: heading.split()[1].rstrip(",:")  # noqa: E731
    _, new_sections = _sections(new)
    measured = {kind(h) for h, _ in new_sections if kind(h) != "Reading"}
    head, old_sections = _sections(old)
    out = list(head)
    placed = False
    for heading, body in old_sections:
        if kind(heading) in measured:
            if not placed:
                for h, b in new_sections:
                    if kind(h) in measured:
                        out += [h, "", f"Command: `{command}`"] + b
                placed = True
            continue
        out += [heading] + body
    if not placed:
        for h, b in new_sections:
            if kind(h) in measured:
                out += [h, "", f"Command: `{command}`"] + b
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
