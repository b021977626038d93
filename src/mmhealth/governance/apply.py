"""Carry out a plan: LF-Tags first (grants and filters need them), then resource tags and filters, then
revokes before grants (a moment of too little access beats a moment of too much), then deletions.
Each entry's failure is reported and the rest still run; nothing for an unmanaged principal or resource is
ever sent, even if a hand-edited plan asks for it."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from mmhealth.governance.aws import BATCH_SIZE, Gateway
from mmhealth.governance.desired import Scope
from mmhealth.governance.plan import Change, Plan, scope_from_json
from mmhealth.governance.policy import canonical_principal
from mmhealth.governance.rowfilter import RowFilterError, canonical_row_filter
from mmhealth.governance.state import res_from_api


@dataclass
class Outcome:
    applied: list[Change] = field(default_factory=list)
    failed: list[tuple[Change, str]] = field(default_factory=list)
    refused: list[tuple[Change, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.refused


def _err(exc) -> str:
    e = getattr(exc, "response", {}).get("Error", {})
    return f"{e.get('Code', type(exc).__name__)}: {e.get('Message', str(exc))}"


def guard(change: Change, scope: Scope) -> str | None:
    """Why a change must not be sent, or None."""
    if change.kind == "permission":
        if canonical_principal(change.payload["principal"]) in scope.unmanaged_principals:
            return f"principal {change.payload['principal']} is unmanaged"
        res, cat = res_from_api(change.payload["resource"])
        if not scope.owns_res(res, cat):
            return f"{res.key} is outside the governed scope or unmanaged"
    elif change.kind in ("resource_tag", "filter"):
        r = change.payload.get("resource") or {}
        body = next(iter(r.values()), {}) if r else change.payload["table_data"]
        db = body.get("Name") if "Database" in r else body.get("DatabaseName")
        table = "" if "Database" in r else body.get("Name") or body.get("TableName", "")
        if db not in scope.databases or scope.resource_unmanaged(db, table):
            return f"{db}.{table} is outside the governed scope or unmanaged"
        if change.kind == "filter" and change.action in "+~":
            return _non_canonical(change.payload["table_data"])
    elif change.kind == "lf_tag" and change.payload["key"] not in scope.tag_keys:
        return f"LF-Tag {change.payload['key']} is not managed"
    return None


def _non_canonical(table_data: dict) -> str | None:
    """What is sent is what validate checked: a saved plan edited by hand cannot smuggle in another text."""
    text = (table_data.get("RowFilter") or {}).get("FilterExpression")
    if text is None:
        return None
    try:
        canonical = canonical_row_filter(text)
    except RowFilterError as exc:
        return f"row filter {exc} - fix the policy and plan again"
    if canonical != text:
        return f"row filter is not in canonical form (would send {canonical!r}) - plan again from the policy"
    return None


def apply_plan(gw: Gateway, plan: Plan, progress=None) -> Outcome:
    scope = scope_from_json(plan.scope)
    out = Outcome()
    changes = []
    for c in plan.changes:
        why = guard(c, scope)
        if why:
            out.refused.append((c, why))
        else:
            changes.append(c)
    cat = plan.catalog_id
    tick = progress or (lambda n=1: None)

    def run(change: Change, op: str, **kwargs) -> bool:
        try:
            resp = gw.call(op, **kwargs)
        except Exception as exc:  # botocore ClientError, ParamValidationError, connection errors
            out.failed.append((change, f"{op}: {_err(exc)}"))
            return False
        failures = (resp or {}).get("Failures") or []
        if failures:
            msgs = "; ".join(f"{f.get('Error', {}).get('ErrorCode')}: {f.get('Error', {}).get('ErrorMessage')}" for f in failures)
            out.failed.append((change, f"{op}: {msgs}"))
            return False
        return True

    done: set[int] = set()
    failed_ids: set[int] = set()

    # 1. LF-Tags and their new values.
    for c in changes:
        if c.kind != "lf_tag":
            continue
        p = c.payload
        if "create" in p:
            ok = run(c, "create_lf_tag", CatalogId=cat, TagKey=p["key"], TagValues=p["create"])
        elif p.get("add"):
            ok = run(c, "update_lf_tag", CatalogId=cat, TagKey=p["key"], TagValuesToAdd=p["add"])
        else:
            ok = True
        (done if ok else failed_ids).add(id(c))
        tick()
    # 2. Filters created or changed, and tags on databases, tables and columns.
    for c in changes:
        if c.kind == "filter" and c.action in "+~":
            op = "create_data_cells_filter" if c.action == "+" else "update_data_cells_filter"
            (done if run(c, op, TableData=c.payload["table_data"]) else failed_ids).add(id(c))
            tick()
        elif c.kind == "resource_tag":
            p, ok = c.payload, True
            if p["unset"]:
                ok = run(c, "remove_lf_tags_from_resource", CatalogId=cat, Resource=p["resource"], LFTags=p["unset"])
            if ok and p["set"]:
                ok = run(c, "add_lf_tags_to_resource", CatalogId=cat, Resource=p["resource"], LFTags=p["set"])
            (done if ok else failed_ids).add(id(c))
            tick()
    # 3. Revokes, then grants, batched per principal and resource.
    revokes: dict[tuple, list[Change]] = defaultdict(list)
    grants: dict[tuple, list[Change]] = defaultdict(list)
    for c in changes:
        if c.kind != "permission":
            continue
        key = (c.payload["principal"], c.payload["resource_key"])
        if c.action == "-" or (c.action == "~" and c.payload.get("was_grantable")):
            revokes[key].append(c)
        if c.action == "+" or c.action == "~":
            grants[key].append(c)
    for op, groups in (("batch_revoke_permissions", revokes), ("batch_grant_permissions", grants)):
        entries = []
        for i, ((principal, _), cs) in enumerate(sorted(groups.items())):
            perms = sorted({c.payload["permission"] for c in cs})
            if op == "batch_revoke_permissions":
                # Revoking a permission also revokes its grant option; a grant-option flip re-grants below.
                gopts = sorted({c.payload["permission"] for c in cs if c.payload["grantable"] or c.payload.get("was_grantable")})
            else:
                gopts = sorted({c.payload["permission"] for c in cs if c.payload["grantable"]})
            entry = {"Id": str(i), "Principal": {"DataLakePrincipalIdentifier": principal},
                     "Resource": cs[0].payload["resource"], "Permissions": perms}
            if gopts:
                entry["PermissionsWithGrantOption"] = gopts
            entries.append((entry, cs))
        for start in range(0, len(entries), BATCH_SIZE):
            batch = entries[start:start + BATCH_SIZE]
            try:
                resp = gw.call(op, CatalogId=cat, Entries=[e for e, _ in batch])
            except Exception as exc:
                for _, cs in batch:
                    for c in cs:
                        out.failed.append((c, f"{op}: {_err(exc)}"))
                        failed_ids.add(id(c))
                tick(len(batch))
                continue
            failed_entry = {f.get("RequestEntry", {}).get("Id"): f.get("Error", {}) for f in resp.get("Failures") or []}
            for e, cs in batch:
                for c in cs:
                    if e["Id"] in failed_entry:
                        err = failed_entry[e["Id"]]
                        out.failed.append((c, f"{op}: {err.get('ErrorCode')}: {err.get('ErrorMessage')}"))
                        failed_ids.add(id(c))
                    elif c.action != "~" or op == "batch_grant_permissions":
                        done.add(id(c))
            tick(len(batch))
    # 4. Deletions that had to wait for the revokes: filters, then LF-Tag values.
    for c in changes:
        if c.kind == "filter" and c.action == "-":
            t = c.payload["table_data"]
            ok = run(c, "delete_data_cells_filter", TableCatalogId=t["TableCatalogId"], DatabaseName=t["DatabaseName"],
                     TableName=t["TableName"], Name=t["Name"])
            (done if ok else failed_ids).add(id(c))
            tick()
        elif c.kind == "lf_tag" and c.payload.get("delete") and id(c) not in failed_ids:
            if not run(c, "update_lf_tag", CatalogId=cat, TagKey=c.payload["key"], TagValuesToDelete=c.payload["delete"]):
                done.discard(id(c))
            tick()
    out.applied = [c for c in changes if id(c) in done and id(c) not in failed_ids]
    return out
