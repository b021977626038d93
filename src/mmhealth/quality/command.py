"""`mmhealth quality`: run the Great Expectations gate on the marts, make a deployment's profile baseline, and
compile the GE project from gate.yml, dbt's manifest and the baseline."""

from __future__ import annotations

import argparse
from pathlib import Path

from mmhealth import cli_options, progress


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lake", help="lake folder (default $MMHEALTH_LAKE, else demo-lake/ in the project)")
    p.add_argument("--project", type=Path, help="the expectations/ folder (default: the project's expectations/)")
    cli_options.add_manifest(p, "dbt manifest.json (default: the project's target/manifest.json)", type=Path)
    p.add_argument("--dbt-project", type=Path,
                   help="dbt_project.yml the small-cell threshold is read from (default beside the project)")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "quality",
        help="Great Expectations quality gate on the marts",
        description="Validate the marts with the Great Expectations project in expectations/gx/: invariants "
        "(dbt contract and keys from the manifest; ranges, small cells, integrity, de-identification from "
        "gate.yml) and this deployment's profile (bands from expectations/baseline.yml).",
    )
    sub = p.add_subparsers(dest="quality_command", metavar="ACTION")
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])

    c = sub.add_parser(
        "check",
        help="run a checkpoint; exit 1 with a table of failed expectations",
        description="Run a checkpoint of expectations/gx/ over the marts (what "
        "`gx.get_context(project_root_dir=...).checkpoints.get(...).run()` runs), write Data Docs and a JSON result "
        "under $MMHEALTH_LAKE/quality/, and exit 1 when any expectation fails. The result carries a content hash of "
        "each mart; `mmhealth features publish` accepts only data whose latest check passed.",
    )
    c.add_argument("--checkpoint", default="pre_feature_store", help="checkpoint from expectations/gate.yml")
    c.add_argument("--target", choices=("local", "athena"), default="local",
                   help="local: dbt's DuckDB warehouse read into pandas; athena: GE's SQL datasource via PyAthena "
                   "(MMHEALTH_ATHENA_URL)")
    _common(c)
    c.add_argument("--no-docs", action="store_true", help="skip building Data Docs")
    cli_options.add_json(c, "print the JSON result instead of the summary")
    cli_options.add_quiet(c)
    c.set_defaults(func=_check)

    b = sub.add_parser(
        "baseline",
        help="profile an accepted build into expectations/baseline.yml (then review and commit it)",
        description="Profile the marts of the lake's current build - row counts, completeness, distributions, "
        "label prevalence - into expectations/baseline.yml and recompile the GE project. Refused when the build "
        "fails an invariant: a baseline records an accepted build. Review the diff and commit it like code; "
        "`mmhealth quality check` then holds every later build to it.",
    )
    b.add_argument("--target", choices=("local", "athena"), default="local", help="where the marts are read from")
    _common(b)
    cli_options.add_quiet(b)
    b.set_defaults(func=_baseline)

    k = sub.add_parser(
        "compile",
        help="regenerate expectations/gx/ from gate.yml, dbt's manifest and baseline.yml",
        description="Compile the GE project (suites, validation definitions, checkpoints, great_expectations.yml) "
        "under expectations/gx/ from gate.yml, the dbt manifest and baseline.yml.",
    )
    k.add_argument("--project", type=Path, help="the expectations/ folder (default: the project's expectations/)")
    cli_options.add_manifest(k, "dbt manifest.json (default: the project's target/manifest.json)", type=Path)
    k.add_argument("--dbt-project", type=Path, help="dbt_project.yml (default beside the project)")
    k.add_argument("--check", action="store_true", help="only report stale files; exit 1 if any")
    k.set_defaults(func=_compile)


def _options(args: argparse.Namespace, **kw):
    from mmhealth.paths import lake_dir
    from mmhealth.quality.runner import CheckOptions, default_project

    return CheckOptions(project=args.project or default_project(), lake=lake_dir(getattr(args, "lake", None)),
                        manifest=args.manifest, dbt_project=args.dbt_project, **kw)


def _check(args: argparse.Namespace) -> int:
    from mmhealth.quality.runner import run_check

    opts = _options(args, checkpoint=args.checkpoint, target=args.target, data_docs=not args.no_docs)
    with progress.bar(args.quiet, desc=f"quality {args.checkpoint}", leave=False, bar_format="{desc}: {postfix}") as bar:
        result = run_check(opts, progress=bar.set_postfix_str)
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
    lines.append(tabulate(rows, headers=["mart", "rows", "content", "validations", "result"]))
    if result.failures:
        lines.append("")
        lines.append(f"{len(result.failures)} failed expectation(s):")
        shown = result.failures[:25]
        lines.append(tabulate(
            [[f.mart, f.check, f.expectation.removeprefix("expect_"), f.column or "", f.observed, f.expected]
             for f in shown],
            headers=["mart", "check", "expectation", "column", "observed", "expected"],
            maxcolwidths=[None, None, 40, 24, 40, 44],
        ))
        if len(result.failures) > len(shown):
            lines.append(f"... and {len(result.failures) - len(shown)} more in the JSON result")
    for note in result.baselines.values():
        lines.append(note)
    lines.extend(result.notes)
    status = "PASSED" if result.success else "FAILED"
    lines.append(f"quality {result.checkpoint} on {result.target}: {status} - {result.evaluated} expectations, "
                 f"{len(result.failures)} failed; run {result.run_id}")
    if result.data_docs:
        lines.append(f"Data Docs: {result.data_docs}")
    return "\n".join(lines)


def _baseline(args: argparse.Namespace) -> int:
    from mmhealth.quality.runner import run_baseline

    opts = _options(args, target=args.target)
    with progress.bar(args.quiet, desc="quality baseline", leave=False, bar_format="{desc}: {postfix}") as bar:
        report = run_baseline(opts, progress=bar.set_postfix_str)
    b = report.baseline
    for name, p in b.marts.items():
        bands = sum(len(stats) for stats in p.columns.values())
        print(f"{name}: {int(p.rows.value)} rows, {bands} column bands")
    print(f"wrote {report.path} (baseline of {b.created}, lake {b.lake}); {len(report.changed)} GE project file(s) "
          f"updated under {report.path.parent / 'gx'}")
    print("review the diff and commit it: `mmhealth quality check` now holds every build to these bands")
    return 0


def _compile(args: argparse.Namespace) -> int:
    from mmhealth.quality.compile import stale_files, write_project
    from mmhealth.quality.runner import load_sources

    opts = _options(args)
    src = load_sources(opts)
    if args.check:
        stale = stale_files(src, opts.project)
        for rel in stale:
            print(f"stale: {opts.project / 'gx' / rel}")
        print(f"{len(stale)} stale file(s)" if stale else "GE project is up to date with its sources")
        return 1 if stale else 0
    changed = write_project(src, opts.project)
    for rel in changed:
        print(f"wrote {opts.project / 'gx' / rel}")
    print(f"{len(changed)} file(s) changed" + ("" if src.baseline else
                                              "; no baseline.yml: profile suites left out (only invariants)"))
    return 0
