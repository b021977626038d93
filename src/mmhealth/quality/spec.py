"""The quality gate's hand-written rules, as a reviewer reads them: `expectations/gate.yml` in typed dataclasses.

gate.yml states only what dbt does not: value ranges that are facts of medicine or of the code, small-cell
suppression, integrity between marts, de-identification, which marts each checkpoint reads, and the tolerances a
baseline turns into profile bands. A mart's columns, types, key and not-null come from dbt's manifest
(`mmhealth.quality.contract`); gate.yml refuses to state them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mmhealth.errors import MMHealthError

TARGETS = ("local", "athena")
# Keys that would restate what the dbt contract and tests hold.
STRUCTURAL_KEYS = ("columns", "column_types", "types", "data_type", "key", "not_null", "unique", "schema")


@dataclass(frozen=True)
class Range:
    column: str
    min: float | None
    max: float | None


@dataclass(frozen=True)
class MartRules:
    name: str
    min_rows: int = 0
    ranges: tuple[Range, ...] = ()
    small_cells: tuple[str, ...] = ()


@dataclass(frozen=True)
class Relationship:
    name: str
    description: str
    from_mart: str
    from_column: str
    to_mart: str
    to_column: str


@dataclass(frozen=True)
class DeidSpec:
    marts: tuple[str, ...]
    forbidden_column_names: tuple[str, ...]
    identifier_value_shapes: dict[str, str]


@dataclass(frozen=True)
class ProfileTolerances:
    min_ratio: float = 0.9
    max_ratio: float = 1.5
    z: float = 3.0
    min_half_width: float = 0.02
    mean_tolerance_sd: float = 0.5
    stdev_ratio: float = 1.5


@dataclass(frozen=True)
class CheckpointSpec:
    name: str
    description: str
    marts: tuple[str, ...]


@dataclass(frozen=True)
class GateSpec:
    checkpoints: dict[str, CheckpointSpec]
    invariants: dict[str, MartRules]
    relationships: tuple[Relationship, ...]
    deid: DeidSpec
    profile: ProfileTolerances = field(default_factory=ProfileTolerances)

    @property
    def marts(self) -> tuple[str, ...]:
        """Every mart some checkpoint reads, in first-mentioned order."""
        return tuple(dict.fromkeys(m for cp in self.checkpoints.values() for m in cp.marts))

    def rules(self, mart: str) -> MartRules:
        return self.invariants.get(mart) or MartRules(mart)

    def checkpoint(self, name: str) -> CheckpointSpec:
        if name not in self.checkpoints:
            known = ", ".join(sorted(self.checkpoints))
            raise MMHealthError(f"expectations/gate.yml: no checkpoint {name!r} - use one of: {known}")
        return self.checkpoints[name]

    def relationships_of(self, marts: tuple[str, ...]) -> tuple[Relationship, ...]:
        return tuple(r for r in self.relationships if r.from_mart in marts)


def load_spec(path: Path) -> GateSpec:
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise MMHealthError(f"{path}: quality gate spec not found - pass --project pointing at the expectations/ "
                            "folder") from None
    except yaml.YAMLError as exc:
        raise MMHealthError(f"{path}: not valid YAML ({exc}) - fix the syntax") from None
    return parse_spec(raw, source=str(path))


def parse_spec(raw: Any, source: str = "gate.yml") -> GateSpec:
    def fail(what: str) -> MMHealthError:
        return MMHealthError(f"{source}: {what}")

    if not isinstance(raw, dict) or "checkpoints" not in raw:
        raise fail("expected a mapping with `checkpoints:` - see docs/quality.md")
    restated = sorted(_structural_keys(raw))
    if restated:
        raise fail(f"{', '.join(restated)}: columns, types, keys and not-null come from the dbt manifest - "
                   "declare them in the dbt model YAML, not here")
    checkpoints = {}
    for name, c in (raw.get("checkpoints") or {}).items():
        marts = tuple(c.get("marts") or ())
        if not marts:
            raise fail(f"checkpoints.{name}: no marts - list the marts it checks")
        checkpoints[name] = CheckpointSpec(name, str(c.get("description", "")).strip(), marts)
    gated = set(m for cp in checkpoints.values() for m in cp.marts)

    invariants = {}
    for mart, m in (raw.get("invariants") or {}).items():
        if mart not in gated:
            raise fail(f"invariants.{mart}: no checkpoint reads this mart - add it to a checkpoint or remove it")
        m = m or {}
        ranges = []
        for col, r in (m.get("ranges") or {}).items():
            if not (isinstance(r, list) and len(r) == 2):
                raise fail(f"invariants.{mart}.ranges.{col}: expected [min, max] (null for open)")
            lo, hi = _num(r[0]), _num(r[1])
            if lo is not None and hi is not None and lo > hi:
                raise fail(f"invariants.{mart}.ranges.{col}: min {lo} > max {hi}")
            ranges.append(Range(str(col), lo, hi))
        invariants[mart] = MartRules(mart, int(m.get("min_rows", 0)), tuple(ranges),
                                     tuple(str(c) for c in m.get("small_cells") or ()))

    relationships = []
    for name, r in (raw.get("relationships") or {}).items():
        try:
            from_mart, from_col = str(r["from"]).split(".")
            to_mart, to_col = str(r["to"]).split(".")
        except (KeyError, ValueError):
            raise fail(f"relationships.{name}: expected `from: mart.column` and `to: mart.column`") from None
        if from_mart not in gated or to_mart not in gated:
            raise fail(f"relationships.{name}: {from_mart} and {to_mart} must both be marts a checkpoint reads")
        relationships.append(Relationship(str(name), str(r.get("description", "")).strip(), from_mart, from_col,
                                          to_mart, to_col))

    d = raw.get("deidentification") or {}
    for kind, pattern in (d.get("identifier_value_shapes") or {}).items():
        try:
            re.compile(pattern)
        except re.error as exc:
            raise fail(f"deidentification.identifier_value_shapes.{kind}: bad regex ({exc})") from None
    deid = DeidSpec(tuple(d.get("marts") or ()), tuple(d.get("forbidden_column_names") or ()),
                    dict(d.get("identifier_value_shapes") or {}))
    unknown = [m for m in deid.marts if m not in gated]
    if unknown:
        raise fail(f"deidentification.marts: {unknown} are not read by any checkpoint")

    p = raw.get("profile") or {}
    profile = ProfileTolerances(**{**_pick(p.get("row_count"), "min_ratio", "max_ratio"),
                                   **_pick(p.get("shares"), "z", "min_half_width"),
                                   **_pick(p.get("distribution"), "mean_tolerance_sd", "stdev_ratio")})
    return GateSpec(checkpoints, invariants, tuple(relationships), deid, profile)


def _structural_keys(node: Any, path: str = "") -> set[str]:
    """Where gate.yml would restate the schema: a structural key anywhere outside the de-identification patterns."""
    found: set[str] = set()
    if isinstance(node, dict):
        for k, v in node.items():
            here = f"{path}.{k}" if path else str(k)
            if here.startswith("deidentification"):
                continue
            if str(k) in STRUCTURAL_KEYS:
                found.add(here)
            found |= _structural_keys(v, here)
    return found


def _pick(section: Any, *names: str) -> dict[str, float]:
    section = section or {}
    return {n: float(section[n]) for n in names if n in section}


def _num(v: Any) -> float | None:
    return None if v is None else float(v)
