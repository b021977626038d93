"""`mmhealth govern ...`: Lake Formation permissions as code. Heavy imports stay inside the handlers."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from mmhealth import cli_options, paths, progress
from mmhealth.errors import MMHealthError

DEFAULT_POLICY = "governance/policy.yml"  # in the project (mmhealth.paths), whatever the working directory
EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--policy", help=f"policy YAML (default: the project's {DEFAULT_POLICY})")
    cli_options.add_manifest(p, "dbt target/manifest.json (default: the policy's `manifest:`, relative to the project)")


def _aws(p: argparse.ArgumentParser) -> None:
    p.add_argument("--catalog-id", help="AWS account id of the Data Catalog (default: the policy's catalog_id)")
    p.add_argument("--region", help="AWS region (default: the policy's region)")
    p.add_argument("--profile", help="AWS named profile")
    p.add_argument("--endpoint-url", default=os.environ.get("MMHEALTH_LAKEFORMATION_ENDPOINT"),
                   help="Lake Formation endpoint (tests, LocalStack); default $MMHEALTH_LAKEFORMATION_ENDPOINT or AWS")


def register(subparsers) -> None:
    gov = subparsers.add_parser(
        "govern", help="Lake Formation permissions as code: validate, plan, apply, access review, local views",
        description="Lake Formation permissions as reviewed YAML (governance/policy.yml). Column classifications "
                    "come from the dbt models' meta.sensitivity in target/manifest.json. See docs/governance.md.",
    )
    gov.set_defaults(func=lambda args: (gov.print_help(), EXIT_OK)[1])
    sub = gov.add_subparsers(dest="govern_command", metavar="SUBCOMMAND")

    p = sub.add_parser("validate", help="check the policy: schema, meaning and the PHI invariant",
                       description="Schema (governance/schema/policy.schema.json), then meaning: unknown tags, principals, "
                                   "tables and columns; row filters outside Lake Formation's subset (parsed once, sent in "
                                   "canonical form) or on columns of the wrong type; two values of one tag key on a resource; "
                                   "that no principal below phi clearance can read a phi column; and that no grant option "
                                   "or write permission reaches a table with phi columns unless the principal is phi-cleared "
                                   "and the grant says allow_phi_regrant / allow_phi_write with a reason.")
    _common(p)
    p.add_argument("--catalog-id", help="account id substituted for {account_id} in principal ARNs")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("plan", help="diff the policy against live Lake Formation (exit 0 none, 2 changes, 1 error)",
                       description="Read live Lake Formation state, normalize it, diff it against the policy and print "
                                   "+/-/~ lines grouped by principal. Exit 0: no change; 2: changes or drift; 1: error.")
    _common(p)
    _aws(p)
    cli_options.add_json(p, "print the plan as JSON instead of text")
    cli_options.add_quiet(p)
    p.add_argument("--out", help="save the plan (JSON) for `govern apply --plan`")
    p.add_argument("--markdown", help="also write a Markdown summary (for a pull-request comment) to this file")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("apply", help="make Lake Formation match the policy (batch grant/revoke)",
                       description="Apply a saved plan (refused if live state changed since it was made) or plan and "
                                   "apply now. Unmanaged principals and resources are never touched.")
    _common(p)
    _aws(p)
    p.add_argument("--plan", dest="plan_file", help="a plan saved by `govern plan --out`: reviewed, so it is the "
                   "approval - applied without a prompt (refused if live state changed since)")
    p.add_argument("--auto-approve", action="store_true", help="without --plan: apply the fresh plan without asking")
    cli_options.add_quiet(p)
    p.set_defaults(func=cmd_apply)

    p = sub.add_parser("access", help="effective access matrix: principal x table x columns x row filter, and re-granters",
                       description="What each principal can read, with each column's classification and the grants "
                                   "that give it, and who can re-grant (grant option) or change (write permissions) "
                                   "which table: the artifact reviewers read.")
    _common(p)
    p.add_argument("--principal", action="append", help="only this principal (repeatable)")
    cli_options.add_json(p, "JSON for tooling instead of Markdown")
    cli_options.deprecated_option(p, "--format", "--json", "json", choices=["md", "json"],
                                  convert=lambda v: v == "json")
    p.add_argument("--out", help="write to this file instead of stdout")
    p.set_defaults(func=cmd_access)

    p = sub.add_parser("local", help="preview the policy on the local DuckDB warehouse (schemas as_<principal>)",
                       description="Create one schema as_<principal> per principal in the DuckDB warehouse, with views "
                                   "exposing only the columns and rows the policy allows. A preview, not a security "
                                   "boundary: whoever opens the warehouse can still read the base tables and ATTACH "
                                   "the lake.")
    _common(p)
    p.add_argument("--warehouse", help="DuckDB warehouse (default $MMHEALTH_LAKE/warehouse.duckdb, else "
                   "demo-lake/warehouse.duckdb in the project)")
    p.add_argument("--principal", action="append", help="only this principal (repeatable)")
    p.set_defaults(func=cmd_local)

    p = sub.add_parser("dbt-config", help="generate dbt-athena lf_tags_config for the models from the policy",
                       description="Emit a dbt_project.yml `models:` block with +lf_tags_config for every governed model "
                                   "(dbt tags tables and columns on each Athena run; govern apply does the rest).")
    _common(p)
    p.add_argument("--out", help="write to this file instead of stdout")
    p.add_argument("--check", metavar="FILE", help="exit 2 if FILE differs from what would be generated")
    p.set_defaults(func=cmd_dbt_config)


def _policy_path(args) -> Path:
    return Path(args.policy) if args.policy else paths.policy_file()


def _load(args, catalog_id=None):
    from mmhealth.governance.validate import validate

    policy, catalog, findings = validate(_policy_path(args), args.manifest, catalog_id)
    for f in findings:
        print(str(f), file=sys.stderr)
    return policy, catalog


def cmd_validate(args) -> int:
    policy, catalog = _load(args, args.catalog_id)
    n_cols = sum(len(t.columns) for t in catalog.tables.values())
    exceptions = [g.name for g in policy.grants if g.allow_phi_regrant or g.allow_phi_write]
    delegation = (f"; {len(exceptions)} grant(s) may re-grant or change tables with phi columns, by explicit exception "
                  f"({', '.join(exceptions)}; see `govern access`)" if exceptions else
                  "; no grant option or write permission reaches a table with phi columns")
    print(f"{paths.shown(policy.file)}: valid - {len(policy.principals)} principals, {len(policy.grants)} grants, "
          f"{len(policy.filters)} data cells filters over {len(catalog.tables)} tables / {n_cols} columns "
          f"({catalog.source}); no principal below phi clearance reaches a phi column{delegation}")
    return EXIT_OK


def _gateway(args, policy):
    from mmhealth.governance.aws import Gateway, make_client

    client = make_client(args.region or policy.region, args.endpoint_url, args.profile)
    return Gateway(client, policy.catalog_id)


def _aws_errors(fn):
    def wrapped(args):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(args)
        except ClientError as exc:
            e = exc.response.get("Error", {})
            raise MMHealthError(f"Lake Formation: {exc.operation_name} failed ({e.get('Code')}: {e.get('Message')}) - "
                                "check credentials, --catalog-id and that the caller is a data lake admin") from exc
        except BotoCoreError as exc:
            raise MMHealthError(f"AWS: {exc} - check credentials, --region and --endpoint-url") from exc
    return wrapped


def build_plan(args):
    from mmhealth.governance.aws import read_live
    from mmhealth.governance.desired import desired_state
    from mmhealth.governance.plan import make_plan

    policy, catalog = _load(args, args.catalog_id)
    if not policy.catalog_id.isdigit():
        raise MMHealthError(f"{policy.file}: no catalog_id - set `catalog_id:` in the policy or pass --catalog-id ACCOUNT")
    desired, scope = desired_state(policy, catalog)
    gw = _gateway(args, policy)
    with progress.bar(getattr(args, "quiet", False), total=len(scope.tables), desc="read LF-Tags", unit="table") as bar:
        live = read_live(gw, scope, progress=bar.update)
    names = {p.identifier: p.name for p in policy.principals.values()}
    return make_plan(desired, live, scope, paths.shown(policy.file), names), gw, policy


@_aws_errors
def cmd_plan(args) -> int:
    from mmhealth.governance.plan import dumps, render_markdown, render_text

    plan, gw, _ = build_plan(args)
    print(dumps(plan) if args.json else render_text(plan), end="" if args.json else "\n")
    if args.out:
        Path(args.out).write_text(dumps(plan), encoding="utf-8")
        print(f"saved plan to {args.out} (live state {plan.state_sha256[:12]}); apply it with "
              f"`mmhealth govern apply --plan {args.out}`", file=sys.stderr)
    if args.markdown:
        Path(args.markdown).write_text(render_markdown(plan), encoding="utf-8")
    print(f"{sum(gw.calls.values())} Lake Formation calls", file=sys.stderr)
    return EXIT_CHANGES if plan.changes else EXIT_OK


@_aws_errors
def cmd_apply(args) -> int:
    from mmhealth.governance.apply import apply_plan
    from mmhealth.governance.aws import Gateway, make_client, read_live
    from mmhealth.governance.plan import Plan, render_text, scope_from_json, summary_line

    if args.plan_file:
        try:
            plan = Plan.from_json(json.loads(Path(args.plan_file).read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError) as exc:
            raise MMHealthError(f"{args.plan_file}: not a readable plan ({exc}) - make one with `govern plan --out`") from exc
        from mmhealth.governance.policy import load_policy

        region = args.region
        if region is None and _policy_path(args).exists():
            region = load_policy(_policy_path(args)).region
        gw = Gateway(make_client(region or "us-east-1", args.endpoint_url, args.profile), plan.catalog_id)
        live = read_live(gw, scope_from_json(plan.scope))
        now = live.state.digest()
        if now != plan.state_sha256:
            raise MMHealthError(
                f"{args.plan_file}: live Lake Formation state changed since this plan was made "
                f"(plan {plan.state_sha256[:12]}, now {now[:12]}) - run `mmhealth govern plan --out {args.plan_file}` "
                "again and review it"
            )
    else:
        plan, gw, _ = build_plan(args)
    print(render_text(plan))
    if not plan.changes:
        return EXIT_OK
    # A saved plan was reviewed when it was made (and is refused above if live state moved since): like
    # `terraform apply plan.tfplan`, it is the approval. A plan made here and now needs a yes or --auto-approve.
    if not args.auto_approve and not args.plan_file:
        if not sys.stdin.isatty():
            raise MMHealthError("apply: not a terminal, so cannot ask for confirmation - review the plan and pass --auto-approve")
        if input("Apply these changes? Only 'yes' is accepted: ").strip() != "yes":
            print("apply cancelled")
            return EXIT_ERROR
    with progress.bar(args.quiet, total=len(plan.changes), desc="apply", unit="change") as bar:
        outcome = apply_plan(gw, plan, progress=bar.update)
    for c, why in outcome.refused:
        print(f"refused {c.action} {c.text}: {why}", file=sys.stderr)
    for c, why in outcome.failed:
        print(f"FAILED  {c.action} {c.text}: {why}", file=sys.stderr)
    print(f"Applied {len(outcome.applied)} of {len(plan.changes)} change(s); {len(outcome.failed)} failed, "
          f"{len(outcome.refused)} refused. ({summary_line(plan)})")
    return EXIT_OK if outcome.ok else EXIT_ERROR


def cmd_access(args) -> int:
    from mmhealth.governance.report import access_json, access_markdown

    policy, catalog = _load(args)
    text = access_json(policy, catalog, args.principal) if args.json else access_markdown(policy, catalog, args.principal)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        print(text, end="")
    return EXIT_OK


def cmd_local(args) -> int:
    from mmhealth.governance.local import build_local, schema_name

    policy, catalog = _load(args)
    warehouse = args.warehouse or str(paths.warehouse_path())
    result = build_local(policy, catalog, warehouse, args.principal)
    for p, views in result.views.items():
        print(f"{schema_name(p)}: {len(views)} view(s){': ' + ', '.join(views) if views else ''}")
    if result.missing:
        print(f"warning: {len(result.missing)} granted table(s) not in {warehouse}: {', '.join(result.missing)} - run dbt build",
              file=sys.stderr)
    if result.lake_only:
        print(f"note: {', '.join(result.lake_only)}: lake tables, governed on Lake Formation only (see govern access)",
              file=sys.stderr)
    print(f"{warehouse}: {sum(len(v) for v in result.views.values())} views in {len(result.views)} principal schemas "
          "(a preview of the policy, not a security boundary: the base tables stay readable to whoever opens the file)")
    return EXIT_OK


def cmd_dbt_config(args) -> int:
    from mmhealth.governance.dbtconfig import render

    policy, catalog = _load(args)
    text = render(policy, catalog)
    if args.check:
        try:
            current = Path(args.check).read_text(encoding="utf-8")
        except OSError:
            current = None
        if current != text:
            print(f"{args.check}: stale - regenerate with `mmhealth govern dbt-config --out {args.check}`", file=sys.stderr)
            return EXIT_CHANGES
        print(f"{args.check}: up to date")
        return EXIT_OK
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out} ({len(catalog.tables)} models)", file=sys.stderr)
    else:
        print(text, end="")
    return EXIT_OK
