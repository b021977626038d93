"""`mmhealth dashboards`: QuickSight dashboards as code, and the same dashboards as local HTML."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from mmhealth import cli_options, paths, progress
from mmhealth.errors import MMHealthError
from mmhealth.manifest import SENSITIVITY_LEVELS


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "dashboards",
        help="QuickSight dashboards as code, and static local HTML dashboards",
        description="Build the population and patient dashboards: on QuickSight (data sets over the Athena marts, "
        "dashboards as code) or as static HTML pages from the local DuckDB warehouse.",
    )
    sub = parser.add_subparsers(dest="dashboards_command", metavar="SUBCOMMAND")
    parser.set_defaults(func=lambda args: (parser.print_help(), 0)[1])

    qs = sub.add_parser(
        "quicksight",
        help="create or update the QuickSight data sets and dashboards",
        description="Create or update QuickSight data sets (Athena, over the curated marts; column types from the "
        "dbt manifest) and the Population and Patient dashboards, granted to the QuickSight group named in "
        "governance/. Every request is also written as JSON for review.",
    )
    qs.add_argument("--account", required=True, help="AWS account id that owns the QuickSight assets")
    qs.add_argument("--data-source-arn", help="existing QuickSight Athena data source; without it, the data "
                    "source 'mmhealth-athena' is created or updated for --workgroup")
    qs.add_argument("--workgroup", default="primary", help="Athena work group of a created data source (default primary)")
    qs.add_argument("--region", default=None, help="AWS region (default: AWS_REGION / AWS_DEFAULT_REGION / us-east-1)")
    cli_options.add_manifest(qs, "dbt manifest with the marts (default: the project's target/manifest.json); use "
                             "the athena one (scripts/dbt_athena.sh parse writes target/athena/manifest.json) for "
                             "Athena database names")
    qs.add_argument("--governance", help="policy file or folder naming the QuickSight group (default: the "
                    "project's governance/)")
    qs.add_argument("--group", help="QuickSight group (policy principal name or group name)")
    qs.add_argument("--group-arn", help="QuickSight group ARN, overriding the policy")
    qs.add_argument("--clearance", choices=SENSITIVITY_LEVELS,
                    help="lower the group's clearance for this run (default: the policy's; a group the policy does "
                    "not declare gets at most internal; never above the policy - the patient dashboard needs phi)")
    qs.add_argument("--namespace", default="default", help="QuickSight namespace of --group (default default)")
    qs.add_argument("--import-mode", choices=("DIRECT_QUERY", "SPICE"), default="DIRECT_QUERY")
    qs.add_argument("--min-cell-count", type=int, default=None, help="small-cell threshold shown for suppressed "
                    "counts (default: dbt var small_cell_threshold, else 11)")
    qs.add_argument("--out", help="folder for the JSON definitions (default: the project's target/quicksight)")
    qs.add_argument("--endpoint-url", help="QuickSight endpoint (tests, VPC endpoints)")
    qs.add_argument("--dry-run", action="store_true", help="validate and write the JSON definitions; call no AWS API")
    cli_options.add_quiet(qs)
    qs.set_defaults(func=run_quicksight)

    build = sub.add_parser(
        "build",
        help="write static HTML dashboards from the local warehouse",
        description="Write the population pages (Clinical, Genomic, Imaging) and the patient page (with a patient "
        "selector; ?patient=KEY preselects one) as static HTML sharing one plotly.js file: no server, no network.",
    )
    build.add_argument("--out", required=True, help="output folder")
    build.add_argument("--lake", help="lake folder holding warehouse.duckdb (default $MMHEALTH_LAKE, else "
                       "demo-lake/ in the project)")
    build.add_argument("--warehouse", help="DuckDB warehouse file (default LAKE/warehouse.duckdb)")
    cli_options.add_manifest(build, "dbt manifest of the local build (default: the project's target/manifest.json)")
    build.add_argument("--max-patients", type=int, default=500,
                       help="patients listed on the patient page, those with the most modalities first (default 500)")
    build.add_argument("--min-cell-count", type=int, default=None, help="small-cell threshold (default: dbt var, else 11)")
    cli_options.add_quiet(build)
    build.set_defaults(func=run_build)


def small_cell_threshold(project_file: Path | None = None) -> int:
    """The dbt var that the population models suppress with, so the labels say the same number."""
    project_file = project_file or paths.dbt_project_file()
    try:
        import yaml

        value = (yaml.safe_load(project_file.read_text(encoding="utf-8")) or {}).get("vars", {}).get("small_cell_threshold")
        return int(value) if value is not None else 11
    except (OSError, ValueError, TypeError):
        return 11


def run_quicksight(args: argparse.Namespace) -> int:
    from mmhealth.dashboards import deploy, quicksight
    from mmhealth.dashboards.layout import DASHBOARDS
    from mmhealth.manifest import load_manifest
    from mmhealth.dashboards.principals import resolve_group

    region = args.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    if not (args.account.isdigit() and len(args.account) == 12):
        raise MMHealthError(f"--account {args.account}: not a 12-digit AWS account id - pass the account id")
    manifest = load_manifest(args.manifest or paths.dbt_manifest())
    group = resolve_group(
        Path(args.governance) if args.governance else paths.governance_dir(), group=args.group, group_arn=args.group_arn, clearance=args.clearance,
        account=args.account, region=region, namespace=args.namespace,
    )
    data_source = None
    data_source_arn = args.data_source_arn
    probe = quicksight.Target(args.account, region, "", group.arn, group.clearance)
    if not data_source_arn:
        data_source = quicksight.data_source_request(probe, args.workgroup)
        data_source_arn = probe.arn("datasource", data_source["DataSourceId"])
    target = quicksight.Target(
        account=args.account, region=region, data_source_arn=data_source_arn, group_arn=group.arn,
        group_clearance=group.clearance, import_mode=args.import_mode,
    )
    min_cell = args.min_cell_count or small_cell_threshold()
    plan = quicksight.build_plan(DASHBOARDS, manifest, target, min_cell=min_cell, data_source=data_source)
    quicksight.validate_plan(plan)
    out = Path(args.out) if args.out else paths.in_project("target", "quicksight")
    written = deploy.write_plan(plan, out)
    print(f"group: {group.arn} (clearance {group.clearance}, from {group.source})")
    for note in plan.notes:
        print(f"note: {note}")
    print(f"wrote {len(written)} definition files to {out}")
    if args.dry_run:
        print(f"dry run: {len(plan.data_sets)} data sets, {len(plan.dashboards)} dashboards validated; no AWS call made")
        return 0

    import boto3

    client = boto3.client("quicksight", region_name=region, endpoint_url=args.endpoint_url)
    total = len(plan.data_sets) + len(plan.dashboards) + (1 if plan.data_source else 0)
    with progress.bar(args.quiet, total=total, desc="quicksight", unit="asset") as bar:
        report = deploy.deploy(client, plan, progress=bar)
    for o in report.outcomes:
        print(f"{o.action:8} {o.kind:12} {o.resource_id}")
    print(f"summary: {report.count('created')} created, {report.count('updated')} updated")
    return 0


def run_build(args: argparse.Namespace) -> int:
    from mmhealth.dashboards import local
    from mmhealth.dashboards.layout import DASHBOARDS, check_against_columns
    from mmhealth.manifest import load_manifest

    manifest_path = args.manifest or paths.dbt_manifest()
    manifest = load_manifest(manifest_path)
    models = {m for d in DASHBOARDS for m in d.models()}
    relations = {m: manifest.model(m).relation_name for m in models}
    missing = sorted(m for m, rel in relations.items() if not rel)
    if missing:
        raise MMHealthError(f"{manifest_path}: no relation for {', '.join(missing)} - run `dbt build` for the local target")
    warehouse_path = Path(args.warehouse) if args.warehouse else paths.warehouse_path(args.lake)
    wh = local.Warehouse(warehouse_path, relations)
    try:
        check = check_against_columns(DASHBOARDS, {m: wh.columns(m) for m in models})
        if not check.ok:
            p = check.problems[0]
            raise MMHealthError(
                f"{warehouse_path}: {p.model}.{p.column or '*'} {p.why} (visual {p.visual}; "
                f"{len(check.problems)} problem(s)) - rebuild the marts with `dbt build`"
            )
        pages = local.pages_for(DASHBOARDS)
        with progress.bar(args.quiet, total=len(pages), desc="dashboards", unit="page") as bar:
            summary = local.build(
                DASHBOARDS, wh, Path(args.out), min_cell=args.min_cell_count or small_cell_threshold(),
                max_patients=args.max_patients, progress=bar,
            )
    finally:
        wh.close()
    for page in summary.pages:
        print(page)
    print(f"summary: {len(summary.pages)} pages, {summary.patients} patients on the patient page, "
          f"{summary.rows_read} rows read; open {Path(args.out) / 'index.html'}")
    return 0
