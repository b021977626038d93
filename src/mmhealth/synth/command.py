"""`mmhealth generate`: a coherent synthetic multimodal data set (FHIR, VCF, DICOM) at any scale."""

from __future__ import annotations

import argparse
from pathlib import Path

from mmhealth import cli_options, progress

DESCRIPTION = """Write a synthetic, linked multimodal health data set: FHIR R4 bulk NDJSON (and optional
transaction Bundles), one VCF per sequenced patient with a ClinVar-style annotation VCF and a reference FASTA,
one DICOM MR/CT series per imaged patient, and manifest.json. The same seed gives byte-identical output.
See docs/synthetic-data.md for the generative model."""

EPILOG = """examples:
  mmhealth generate --out demo-data
  mmhealth generate --out big --patients 10000 --genomes 6154 --imaging 2308 --seed 11
  mmhealth generate --out broken --patients 50 --genomes 20 --imaging 5 --corrupt 3"""


def register(subparsers) -> None:
    p = subparsers.add_parser("generate", help="write a synthetic multimodal data set (FHIR, VCF, DICOM)",
                              description=DESCRIPTION, epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, type=Path, help="output folder (new, empty, or an earlier output)")
    p.add_argument("--patients", type=int, default=1300, help="number of patients (default 1300)")
    p.add_argument("--genomes", type=int, default=800, help="patients with a VCF (default 800)")
    p.add_argument("--imaging", type=int, default=300, help="adult patients with a DICOM study (default 300)")
    p.add_argument("--seed", type=int, default=7, help="random seed; same seed, same bytes (default 7)")
    p.add_argument("--bundles", action="store_true", help="also write one transaction Bundle per patient")
    p.add_argument("--corrupt", type=int, default=0, metavar="N",
                   help="add N bad records of each kind and list them in corruptions.json (default 0)")
    cli_options.add_jobs(p, "worker processes (default: CPU count, at most 4)")
    cli_options.add_quiet(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from mmhealth.synth.generate import GenerateConfig, default_jobs, generate

    cfg = GenerateConfig(out=args.out, patients=args.patients, genomes=args.genomes, imaging=args.imaging,
                         seed=args.seed, bundles=args.bundles, corrupt=args.corrupt,
                         jobs=args.jobs or default_jobs(), progress=progress.wanted(args.quiet))
    s = generate(cfg)
    total = sum(s.resources.values())
    print(f"mmhealth generate: wrote {s.out}")
    print(f"  {s.headline()}")
    print(f"  FHIR: {total:,} resources in {s.files['fhir_ndjson']} NDJSON files"
          + (f" and {s.files['fhir_bundles']:,} bundles" if s.files["fhir_bundles"] else "")
          + " (" + ", ".join(f"{k} {v:,}" for k, v in s.resources.items()) + ")")
    print(f"  VCF: {s.files['vcf']:,} files + annotation/clinvar.vcf.gz + reference/panel.fa; "
          f"DICOM: {s.files['dicom']:,} files")
    if args.corrupt:
        from mmhealth.synth.corrupt import KINDS

        made = {k: sum(c["kind"] == k for c in s.corruptions) for k in KINDS}
        print(f"  corrupt: {len(s.corruptions):,} bad records listed in corruptions.json")
        missing = [k for k, n in made.items() if n == 0]
        if missing:  # e.g. --genomes 0: there is no VCF to put a bad VCF record in
            print(f"  corrupt: none of {', '.join(missing)} (no file of that kind was generated)")
    return 0
