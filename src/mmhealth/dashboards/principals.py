"""Who may see the dashboards: the QuickSight group named in the governance policy (`governance/*.yml`).

The policy's `principals` map holds entries of `type: quicksight_group` with an `arn` (which may use the
placeholders `{account_id}` and `{region}`) and a `clearance` (public < internal < phi). The dashboards grant that group read access and leave out of its data sets every
column classified above its clearance.

The policy is the reviewed record of who may see PHI, so the command line can narrow a group's clearance
but never raise it: `--clearance` above the policy's value is refused, and a group the policy does not
declare (`--group-arn`, or a `--group` name not in it) gets at most `internal` - the patient dashboard (PHI)
goes only to a quicksight_group principal the policy clears for phi.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mmhealth.errors import MMHealthError


@dataclass(frozen=True)
class QuickSightGroup:
    name: str
    arn: str
    clearance: str
    source: str  # the policy file, or "command line"


def _policy_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        return []
    return sorted([*path.glob("*.yml"), *path.glob("*.yaml")])


def groups_in_policy(path: Path) -> list[QuickSightGroup]:
    import yaml

    found = []
    for file in _policy_files(path):
        try:
            doc = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise MMHealthError(f"{file}: not valid YAML ({exc.__class__.__name__}) - fix the policy file") from None
        principals = doc.get("principals") if isinstance(doc, dict) else None
        if not isinstance(principals, dict):
            continue
        for name, spec in principals.items():
            if isinstance(spec, dict) and spec.get("type") == "quicksight_group" and spec.get("arn"):
                found.append(QuickSightGroup(name, spec["arn"], spec.get("clearance", "public"), str(file)))
    return found


UNDECLARED_MAX = "internal"


def _capped(group: QuickSightGroup, requested: str | None, declared: bool) -> QuickSightGroup:
    """The group with `--clearance` applied: lower is fine, higher than the policy (or than `internal` for a
    group the policy does not declare) is refused."""
    from mmhealth.dashboards.manifest import SENSITIVITY_ORDER  # the one ladder, public < internal < phi

    ceiling = group.clearance if declared else UNDECLARED_MAX
    if ceiling not in SENSITIVITY_ORDER:
        ceiling = SENSITIVITY_ORDER[0]  # a clearance the policy misspells grants the least
    clearance = requested or ceiling
    if SENSITIVITY_ORDER.index(clearance) > SENSITIVITY_ORDER.index(ceiling):
        where = (f"the governance policy ({group.source}) gives group '{group.name}' clearance {ceiling}" if declared
                 else f"group '{group.name}' is not declared in the governance policy, so its clearance is at most "
                      f"{UNDECLARED_MAX}")
        raise MMHealthError(
            f"--clearance {clearance}: {where} - raise it in the policy (a reviewed change: a quicksight_group "
            "principal with clearance: phi), not on the command line"
        )
    return QuickSightGroup(group.name, group.arn, clearance, group.source)


def resolve_group(
    policy: Path, *, group: str | None, group_arn: str | None, clearance: str | None, account: str, region: str,
    namespace: str = "default",
) -> QuickSightGroup:
    """The group to grant. Order: an explicit --group-arn; a policy principal matching --group (by principal
    name or the group name at the end of its ARN); the policy's only QuickSight group; else --group built into
    an ARN in this account. Clearance is the policy's (`internal` at most for a group it does not declare);
    `--clearance` may lower it, never raise it."""
    in_policy = [
        QuickSightGroup(g.name, g.arn.replace("{account_id}", account).replace("{region}", region), g.clearance, g.source)
        for g in groups_in_policy(policy)
    ]
    if group_arn:
        for g in in_policy:
            if g.arn == group_arn:  # the policy's group named by ARN: the policy's clearance still applies
                return _capped(g, clearance, declared=True)
        return _capped(QuickSightGroup(group_arn.rsplit("/", 1)[-1], group_arn, UNDECLARED_MAX, "command line"),
                       clearance, declared=False)
    if group:
        for g in in_policy:
            if group in (g.name, g.arn.rsplit("/", 1)[-1]):
                return _capped(g, clearance, declared=True)
        arn = f"arn:aws:quicksight:{region}:{account}:group/{namespace}/{group}"
        return _capped(QuickSightGroup(group, arn, UNDECLARED_MAX, "command line"), clearance, declared=False)
    if len(in_policy) == 1:
        return _capped(in_policy[0], clearance, declared=True)
    if not in_policy:
        raise MMHealthError(
            f"{policy}: no principal of type quicksight_group in the governance policy - add one, or pass "
            "--group NAME or --group-arn ARN"
        )
    names = ", ".join(g.name for g in in_policy)
    raise MMHealthError(f"{policy}: several QuickSight groups ({names}) - choose one with --group NAME")
