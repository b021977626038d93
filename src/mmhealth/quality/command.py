"""`mmhealth quality`: run the Great Expectations gate on the marts, and compile the gate spec into GE files."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "quality",
        help="Great Expectations quality gate on the marts",
        description="Validate the marts with the Great Expectations project in expectations/ "
        "(schema, keys, ranges, label prevalence, completeness, drift, de-identification).",
    )
    sub = p.add_subparsers(dest="quality_command", metavar="ACTION")
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])

    c = sub.add_parser(
        "check",
        help="run a checkpoint; exit 1 with a table of failed expectations",
        description="Run a checkpoint over the marts, write Data Docs (HTML) and a JSON result under "
        "$MMHEALTH_LAKE/quality/, and exit 1 when any expectation fails. The result carries a content hash of "
        "each mart; `mmhealth features publish` accepts only data whose latest check passed.",
    )
    c.add_argument("--checkpoint", default="pre_feature_store", help="checkpoint from expectations/gate.yml")
    c.add_argument("--target", choices=("local", "athena"), default="local",
                   help="local: dbt's DuckDB warehouse read into pandas; athena: GE's SQL datasource via PyAthena "
                   "(MMHEALTH_ATHENA_URL)")
    c.add_argument("--lake", help="lake folder (default $MMHEALTH_LAKE or ./demo-lake)")
    c.add_argument("--project", type=Path, help="GE project folder (default ./expectations)")
    c.add_argument("--baselines", type=Path, help="drift baselines folder (default LAKE/quality/baselines)")
    c.add_argument("--accept", action="store_true",
                   help="accept this run's distributions as the new drift baseline (when all other suites pass)")
    c.add_argument("--manifest", type=Path, help="dbt manifest.json whose meta.sensitivity says which columns' "
                   "values stay out of the report (default target/manifest.json, else the models' YAML)")
    c.add_argument("--json", action="store_true", help="print the JSON result instead of the summary")
    c.set_defaults(func=_check)

    k = sub.add_parser(
        "compile",
        help="regenerate the GE suites, validation definitions and checkpoints from expectations/gate.yml",
        description="Compile expectations/gate.yml into the Great Expectations file project beside it.",
    )
    k.add_argument("--project", type=Path, help="GE project folder (default ./expectations)")
    k.add_argument("--check", action="store_true", help="only report stale files; exit 1 if any")
    k.set_defaults(func=_compile)


def _check(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from mmhealth.quality.data import lake_dir
    from mmhealth.quality.runner import CheckOptions, default_project, run_check
    from mmhealth.quality.spec import load_spec

    project = args.project or default_project()
    opts = CheckOptions(project=project, lake=lake_dir(args.lake), checkpoint=args.checkpoint,
                        target=args.target, accept=args.accept, baselines=args.baselines, manifest=args.manifest)
    marts = load_spec(project / "gate.yml").checkpoint(args.checkpoint).marts
    with tqdm(total=len(marts), desc=f"quality {args.checkpoint}", unit="mart", leave=False) as bar:
        def step(name: str) -> None:
            bar.set_postfix_str(name)
            bar.update(1)

        result = run_check(opts, progress=step)
    if args.json:
        print(result.to_json(), end="")
    else:
        print(format_summary(result))
    return 0 if result.success else 1


def format_summary(result) -> str:
    from tabulate import tabulate

    lines = []
    rows = [[m.name, m.rows, m.content_hash[:12], ", ".join(f"{k}: {v}" for k, v in m.validations.items()),
             "PASS" if m.success else "FAIL"] for m in result.marts.values()]
    lines.append(tabulate(rows, headers=["mart", "rows", "content", "suites", "result"]))
    if result.failures:
        lines.append("")
        lines.append(f"{len(result.failures)} failed expectation(s):")
        shown = result.failures[:25]
        lines.append(tabulate(
            [[f.mart, f.check, f.expectation.removeprefix("expect_"), f.column or "", f.observed, f.expected]
             for f in shown],
            headers=["mart", "check", "expectation", "column", "observed", "expected"],
            maxcolwidths=[None, None, 40, 24, 48, 30],
        ))
        if len(result.failures) > len(shown):
            lines.append(f"... and {len(result.failures) - len(shown)} more in the JSON result")
    for mart, note in result.baselines.items():
        lines.append(f"drift baseline {mart}: {note}")
    lines.extend(result.notes)
    status = "PASSED" if result.success else "FAILED"
    lines.append(f"quality {result.checkpoint} on {result.target}: {status} - {result.evaluated} expectations, "
                 f"{len(result.failures)} failed; run {result.run_id}")
    if result.data_docs:
        lines.append(f"Data Docs: {result.data_docs}")
    return "\n".join(lines)


def _compile(args: argparse.Namespace) -> int:
    from mmhealth.quality.compile import stale_files, write_project
    from mmhealth.quality.runner import default_project
    from mmhealth.quality.spec import load_spec

    project = args.project or default_project()
    spec = load_spec(project / "gate.yml")
    if args.check:
        stale = stale_files(spec, project)
        for rel in stale:
            print(f"stale: {project / rel}")
        print(f"{len(stale)} stale file(s)" if stale else "GE project is up to date with gate.yml")
        return 1 if stale else 0
    changed = write_project(spec, project)
    for rel in changed:
        print(f"wrote {project / rel}")
    print(f"{len(changed)} file(s) changed")
    return 0
