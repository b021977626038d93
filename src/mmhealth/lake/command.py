"""`mmhealth ingest`: source files into the lake (local folder or s3://bucket/prefix)."""

from __future__ import annotations

import argparse
import json
import sys

from mmhealth import cli_options, progress

EXIT_TOO_MANY_BAD = 3
NOTES_SHOWN = 50  # notes printed per modality in the text summary; --json has all of them


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "ingest",
        help="load FHIR, VCF/ClinVar/FASTA and DICOM into the lake (Parquet + DuckDB catalog, or S3 + Glue)",
        description=(
            "Read SOURCE (the generator's output or any folder of FHIR NDJSON/Bundles, VCF, ClinVar VCF, FASTA, "
            "DICOM) into LAKE: HealthLake-, HealthOmics- and HealthImaging-shaped tables. Bad records go to "
            "lake_meta.quarantine; unchanged files are not read again; a killed run leaves the lake as it was."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  mmhealth ingest demo-data --lake demo-lake\n"
        "  mmhealth ingest demo-data --lake s3://my-bucket/lake --modality fhir,genomics --json\n"
        "  mmhealth ingest demo-data --lake demo-lake --reference ref/GRCh38.fa --reprocess quarantined\n"
        "exit status: 0 ok, 1 error, 3 more quarantined records than --max-bad, "
        "4 another ingest is writing the lake (nothing was done; run again later)",
    )
    p.add_argument("source", metavar="SOURCE", help="folder (or file) to ingest")
    p.add_argument("--lake", required=True, metavar="LAKE", help="local folder or s3://bucket/prefix")
    p.add_argument(
        "--modality", default=None, metavar="LIST",
        help="comma-separated: fhir,genomics,imaging (default: all)",
    )
    p.add_argument("--reference", default=None, metavar="FASTA",
                   help="reference FASTA to check VCF REF alleles against; a site whose REF differs is quarantined "
                        "(default: none - REF alleles are not checked; a FASTA inside SOURCE is loaded into "
                        "omics.reference_contigs but never used for the check, as it may be another build)")
    p.add_argument("--reprocess", choices=["quarantined", "all"], default=None,
                   help="also read unchanged files again: 'quarantined' those with rows in lake_meta.quarantine "
                        "(e.g. after a new --reference), 'all' every file; their rows and quarantine rows are "
                        "replaced (default: unchanged files are never read again)")
    p.add_argument("--max-bad", type=int, default=None, metavar="N",
                   help="exit 3 when more than N records are quarantined in this run (default: no limit)")
    cli_options.add_json(p, "print the run summary as JSON on stdout")
    p.add_argument("--segmenter", default=None, metavar="NAME", help="imaging: segmentation model for radiomics")
    cli_options.add_jobs(p, "imaging and genomics: processes for DICOM headers and radiomics, and for VCFs "
                            "(default: the number of cores)")
    cli_options.deprecated_option(p, "--workers", "--jobs", "jobs", type=int)
    p.add_argument("--source-moved", action="store_true",
                   help="SOURCE is the folder earlier runs read, moved or mounted elsewhere: its changed files "
                        "replace their rows (without it, a file at the path of one read from another folder stops "
                        "the run before anything is read)")
    cli_options.add_quiet(p)
    cli_options.deprecated_flag(p, "--no-progress", "--quiet", "quiet")
    p.set_defaults(func=handle)


def handle(args) -> int:
    from pathlib import Path

    from mmhealth.errors import MMHealthError
    from mmhealth.lake.ingest import run_ingest

    modalities = [m.strip() for m in args.modality.split(",") if m.strip()] if args.modality else None
    if args.jobs is not None and args.jobs < 1:
        raise MMHealthError("--jobs: must be at least 1")
    options = {"workers": args.jobs, "source_moved": args.source_moved, "reprocess": args.reprocess}
    if args.reference:
        ref = Path(args.reference)
        if not ref.is_file():
            raise MMHealthError(f"{ref}: reference FASTA not found - give the path of a .fa/.fasta file")
        options["reference"] = ref
    if args.segmenter:
        options["segmenter"] = args.segmenter
    report = run_ingest(
        Path(args.source), args.lake, modalities, options,
        progress=progress.wanted(args.quiet),
    )
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
        for note in report.notes:
            print(f"mmhealth ingest: note: {note}", file=sys.stderr)
    else:
        print(format_summary(report))
    if args.max_bad is not None and report.quarantined > args.max_bad:
        print(
            f"mmhealth ingest: {report.quarantined} records quarantined, more than --max-bad {args.max_bad}; "
            "see lake_meta.quarantine",
            file=sys.stderr,
        )
        return EXIT_TOO_MANY_BAD
    return 0


def format_summary(report) -> str:
    lines = [f"ingest run {report.run_id} into {report.lake}"]
    lines.append(f"{'modality':<10} {'files':>7} {'unchanged':>9} {'read':>10} {'loaded':>10} {'quarant.':>9} {'skipped':>8}")
    for name, m in report.modalities.items():
        lines.append(
            f"{name:<10} {m.files_read:>7} {m.files_unchanged:>9} {m.read:>10} {m.loaded:>10} {m.quarantined:>9} "
            f"{m.skipped:>8}"
        )
    lines.append("tables (rows in the lake):")
    for table, n in report.tables.items():
        lines.append(f"  {table:<36} {n:>12,}")
    for name, m in report.modalities.items():
        notes = getattr(m, "notes", [])
        if notes:  # e.g. every image set loaded without radiomic features, and why (all of them in --json)
            lines.append(f"{name} notes ({len(notes)}):")
            lines.extend(f"  {n}" for n in notes[:NOTES_SHOWN])
            if len(notes) > NOTES_SHOWN:
                lines.append(f"  ... and {len(notes) - NOTES_SHOWN} more (all of them with --json)")
    lines.extend(f"note: {note}" for note in report.notes)
    return "\n".join(lines)
