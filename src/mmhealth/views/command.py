"""`mmhealth views`: SQL-on-FHIR v2 ViewDefinitions run on the lake, compiled to dbt models, and checked against
the official test suite."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "views",
        help="SQL-on-FHIR v2 ViewDefinitions: run on the lake, compile to dbt models (DuckDB, Athena), conformance",
        description="Flat views of FHIR declared as SQL-on-FHIR v2 ViewDefinitions, compiled to SQL over the lake's "
        "HealthLake-shaped tables (DuckDB locally, Athena on AWS). See docs/views.md.",
    )
    sub = p.add_subparsers(dest="views_command", metavar="ACTION")
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])

    run = sub.add_parser(
        "run", help="run views on a local lake (ndjson to stdout by default)",
        description="Compile each VIEW.json against LAKE's schema and run it there through DuckDB (never row by row "
        "in Python). ndjson: one JSON object per row, keys as the view names its columns. With several views and "
        "--out, OUT is a folder and each view writes OUT/<view name>.<format>.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  mmhealth views run views/patient.json --lake demo-lake | head\n"
        "  mmhealth views run views/*.json --lake demo-lake --format parquet --out out/",
    )
    run.add_argument("views", nargs="+", type=Path, metavar="VIEW.json", help="ViewDefinition files")
    run.add_argument("--lake", required=True, type=Path, metavar="LAKE", help="local lake folder (mmhealth ingest)")
    run.add_argument("--format", choices=("ndjson", "csv", "parquet"), default="ndjson", help="output format")
    run.add_argument("--out", type=Path, metavar="PATH", help="output file (one view) or folder (several views)")
    run.add_argument("--show-sql", action="store_true", help="print the compiled SQL to stderr")
    run.set_defaults(func=_run)

    comp = sub.add_parser(
        "compile", help="write one dbt model (+ YAML with every column classified) per view",
        description="Compile every ViewDefinition (*.json) in VIEWS_DIR to a dbt model in OUT, with "
        "_views__models.yml describing each column and carrying meta.sensitivity (the column's "
        "`mmhealth/sensitivity` tag, else phi). The models read the lake through the healthlake source, take the "
        "current version of each resource, and turn elements the lake lacks into typed nulls when dbt runs.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  mmhealth views compile views --out models/views && dbt build --select tag:views",
    )
    comp.add_argument("views_dir", type=Path, metavar="VIEWS_DIR", help="folder of ViewDefinition JSON files")
    comp.add_argument("--out", type=Path, help="dbt model folder (default: the project's models/views)")
    comp.add_argument("--dialect", choices=("duckdb", "athena", "both"), default="both",
                      help="engine SQL the models carry (default both: the running engine's is picked by "
                           "mmh_engine_sql)")
    comp.add_argument("--repeat-depth", type=int, default=5, metavar="N",
                      help="levels a `repeat` is unrolled to in models (a deeper resource stops the query; default 5)")
    comp.set_defaults(func=_compile)

    conf = sub.add_parser(
        "conformance", help="run the SQL-on-FHIR v2 test suite; write its test report",
        description="For each test file in TESTS_DIR: ingest its resources with mmhealth's FHIR ingest into a "
        "scratch lake, compile and run every view, compare rows as the suite says (expect, expectCount, "
        "expectError, expectColumns). --engine athena compiles to Athena SQL, parses it with sqlglot and runs the "
        "sqlglot transpilation on DuckDB. The report follows the suite's test-report.schema.json.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  mmhealth views conformance ../shared/testdata/sql-on-fhir --report r.json\n"
        "exit status: 0 all passed, 4 some failed",
    )
    conf.add_argument("tests_dir", type=Path, metavar="TESTS_DIR", help="folder of the suite's *.json test files")
    conf.add_argument("--report", type=Path, required=True, metavar="PATH", help="test report JSON to write")
    conf.add_argument("--engine", choices=("duckdb", "athena"), default="duckdb", help="engine (default duckdb)")
    conf.add_argument("--quiet", action="store_true", help="no per-case lines on stderr")
    conf.set_defaults(func=_conformance)


def _run(args) -> int:
    from mmhealth.errors import MMHealthError
    from mmhealth.views.definition import load_view
    from mmhealth.views.runner import LakeViews, open_lake, write_rows

    views = [load_view(v) for v in args.views]
    con = open_lake(args.lake)
    try:
        lv = LakeViews.of(con, "duckdb")
        compiled = [lv.compile(v) for v in views]  # every view compiles before any runs
        for c in compiled:
            if args.show_sql:
                print(f"-- {c.view.name}\n{c.sql};", file=sys.stderr)
            out = args.out
            if out is not None and len(compiled) > 1:
                out = args.out / f"{c.view.name}.{args.format}"
            try:
                n = write_rows(con, c, args.format, out)
            except MMHealthError:
                raise
            except Exception as e:  # the engine stopped the query (e.g. a column that is not a collection)
                raise MMHealthError(f"view {c.view.name!r}: {' '.join(str(e).split())[:400]}") from None
            print(f"view {c.view.name}: {n} rows" + (f" -> {out}" if out else ""), file=sys.stderr)
    finally:
        con.close()
    return 0


def _compile(args) -> int:
    from mmhealth.views.dbt import compile_folder

    from mmhealth.paths import in_project

    out = args.out or in_project("models", "views")
    written = compile_folder(args.views_dir, out, args.dialect, args.repeat_depth)
    for p in written:
        print(p)
    print(f"views compile: {len(written) - 1} models in {out}", file=sys.stderr)
    return 0


def _conformance(args) -> int:
    from mmhealth.views.conformance import report, run_suite, summary

    def progress(r):
        if not args.quiet:
            mark = "pass" if r.passed else "FAIL"
            print(f"{mark} {r.file} | {r.name}" + (f" | {r.error}" if r.error and not r.passed else ""),
                  file=sys.stderr)

    results = run_suite(args.tests_dir, args.engine, progress=progress)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report(results), indent=2) + "\n")
    s = summary(results, args.engine)
    print(json.dumps(s))
    return 0 if s["passed"] == s["cases"] else 4
