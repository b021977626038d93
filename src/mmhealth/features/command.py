"""`mmhealth features publish`: gated publishing of a feature mart to a local offline store or SageMaker."""

from __future__ import annotations

import argparse
from pathlib import Path

from mmhealth import cli_options


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "features",
        help="publish gated feature tables (local offline store or SageMaker Feature Store)",
        description="Publish a feature mart that passed the quality gate.",
    )
    sub = p.add_subparsers(dest="features_command", metavar="ACTION")
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])
    pub = sub.add_parser(
        "publish",
        help="publish the feature mart (refused unless the latest gate run passed for this exact data)",
        description="Publish a feature mart. Refuses unless the latest `mmhealth quality check` of the checkpoint "
        "passed for exactly this content (content hash). --to local writes LAKE/feature_store/<group>/v<N>/ "
        "(Parquet + feature group JSON); --to sagemaker creates or updates the feature group and ingests "
        "with PutRecord.",
    )
    pub.add_argument("--to", choices=("local", "sagemaker"), required=True,
                     help="local: versioned Parquet store under LAKE/feature_store; sagemaker: Feature Store")
    pub.add_argument("--feature-group", help="feature group name (default mmhealth-<mart with dashes>)")
    pub.add_argument("--mart", default="features_cardiovascular", help="mart to publish")
    pub.add_argument("--role-arn", help="IAM role SageMaker uses for the offline store")
    pub.add_argument("--offline-store", help="s3:// URI for the SageMaker offline store (Iceberg)")
    pub.add_argument("--checkpoint", default="pre_feature_store", help="gate checkpoint that must have passed")
    pub.add_argument("--target", choices=("local", "athena"), default="local", help="where the mart is read from")
    pub.add_argument("--lake", help="lake folder (default $MMHEALTH_LAKE, else demo-lake/ in the project)")
    cli_options.add_jobs(pub, "sagemaker: concurrent PutRecord calls (default 4)", default=4)
    cli_options.deprecated_option(pub, "--max-workers", "--jobs", "jobs", type=int)
    pub.add_argument("--region", help="AWS region (default from the AWS configuration)")
    pub.add_argument("--endpoint-url", help="AWS endpoint override (tests, VPC endpoints)")
    cli_options.add_manifest(pub, "dbt manifest.json with meta.sensitivity (default the project's "
                             "target/manifest.json, else models/*.yml)", type=Path)
    pub.add_argument("--include-phi", action="store_true",
                     help="also publish columns dbt classifies as phi (left in the lake by default)")
    cli_options.add_quiet(pub)
    pub.set_defaults(func=_publish)


def _publish(args: argparse.Namespace) -> int:
    from mmhealth import progress
    from mmhealth.features.publish import PublishOptions, publish
    from mmhealth.paths import lake_dir

    opts = PublishOptions(to=args.to, lake=lake_dir(args.lake), mart=args.mart, feature_group=args.feature_group,
                          role_arn=args.role_arn, offline_store=args.offline_store, checkpoint=args.checkpoint,
                          target=args.target, max_workers=args.jobs, region=args.region,
                          endpoint_url=args.endpoint_url, include_phi=args.include_phi, manifest=args.manifest)
    with progress.bar(args.quiet, desc=f"publish {opts.group}", unit="rec", leave=False) as bar:
        report = publish(opts, progress=bar.update)
    rate = report.written / report.seconds if report.seconds else 0.0
    where = report.path or f"SageMaker feature group {report.group}"
    print(f"features publish --to {report.to}: {report.group} ({report.group_action}) <- {report.rows} rows "
          f"gated by quality run {report.quality_run_id}")
    print(f"records written {report.written}, failed {report.failed}, retries {report.retries} "
          f"in {report.seconds:.2f}s ({rate:,.0f}/s); {where}")
    if report.excluded:
        print(f"left in the lake (classified phi): {', '.join(report.excluded)}; --include-phi to publish them")
    for index, code, message in report.errors[:5]:
        print(f"  record {index}: {code} {message}")
    return 1 if report.failed else 0
