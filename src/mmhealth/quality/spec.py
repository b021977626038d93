"""The quality gate's intent, as a reviewer reads it: `expectations/gate.yml` loaded into typed dataclasses.

The YAML states *what* must hold for each mart (schema, keys, ranges, label bands, completeness per modality,
which columns are watched for drift) and the de-identification rules; `mmhealth.quality.compile` turns it into the
Great Expectations suites, validation definitions and checkpoints checked in beside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mmhealth.errors import MMHealthError

LOGICAL_TYPES = ("string", "integer", "float", "number", "boolean", "date", "timestamp")
TARGETS = ("local", "athena")


@dataclass(frozen=True)
class Range:
    column: str
    min: float | None
    max: float | None


@dataclass(frozen=True)
class LabelBand:
    column: str
    min: float
    max: float


@dataclass(frozen=True)
class Modality:
    name: str
    columns: tuple[str, ...]
    min_non_null: float


@dataclass(frozen=True)
class MartSpec:
    name: str
    description: str
    key: tuple[str, ...]
    columns: dict[str, str]
    not_null: tuple[str, ...] = ()
    ranges: tuple[Range, ...] = ()
    labels: tuple[LabelBand, ...] = ()
    completeness: tuple[Modality, ...] = ()
    suppressed_counts: tuple[str, ...] = ()
    drift: tuple[str, ...] = ()
    min_rows: int = 1
    deidentify: bool = False


@dataclass(frozen=True)
class DeidSpec:
    forbidden_column_names: tuple[str, ...]
    identifier_value_shapes: dict[str, str]


@dataclass(frozen=True)
class DriftSpec:
    """Tolerances around the accepted baseline, in units of the baseline's own standard deviation."""

    mean_tolerance_sd: float = 0.5
    median_tolerance_sd: float = 0.75
    stdev_ratio: float = 1.5


@dataclass(frozen=True)
class CheckpointSpec:
    name: str
    description: str
    marts: tuple[str, ...]


@dataclass(frozen=True)
class GateSpec:
    marts: dict[str, MartSpec]
    checkpoints: dict[str, CheckpointSpec]
    deid: DeidSpec
    drift: DriftSpec = field(default_factory=DriftSpec)
    label_band_z: float = 3.0
    small_cell_threshold: int = 11

    def mart(self, name: str) -> MartSpec:
        if name not in self.marts:
            raise MMHealthError(f"expectations/gate.yml: no mart named {name!r} - add it under `marts:`")
        return self.marts[name]

    def checkpoint(self, name: str) -> CheckpointSpec:
        if name not in self.checkpoints:
            known = ", ".join(sorted(self.checkpoints))
            raise MMHealthError(f"expectations/gate.yml: no checkpoint {name!r} - use one of: {known}")
        return self.checkpoints[name]


def load_spec(path: Path) -> GateSpec:
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise MMHealthError(f"{path}: quality gate spec not found - pass --project pointing at the expectations/ folder")
    except yaml.YAMLError as exc:
        raise MMHealthError(f"{path}: not valid YAML ({exc}) - fix the syntax")
    return parse_spec(raw, source=str(path))


def parse_spec(raw: dict[str, Any], source: str = "gate.yml") -> GateSpec:
    def fail(what: str) -> MMHealthError:
        return MMHealthError(f"{source}: {what}")

    if not isinstance(raw, dict) or "marts" not in raw:
        raise fail("expected a mapping with `marts:` - see docs/quality.md")
    marts: dict[str, MartSpec] = {}
    for name, m in (raw.get("marts") or {}).items():
        columns = {str(c): str(t) for c, t in (m.get("columns") or {}).items()}
        for col, typ in columns.items():
            if typ not in LOGICAL_TYPES:
                raise fail(f"marts.{name}.columns.{col}: unknown type {typ!r} - use one of {', '.join(LOGICAL_TYPES)}")
        key = tuple(m.get("key") or ())
        referenced = list(key) + list(m.get("not_null") or []) + list((m.get("ranges") or {}).keys())
        referenced += list((m.get("labels") or {}).keys()) + list(m.get("drift") or [])
        referenced += list(m.get("suppressed_counts") or [])
        for mod in (m.get("completeness") or {}).values():
            referenced += list(mod.get("columns") or [])
        unknown = sorted({c for c in referenced if c not in columns})
        if unknown:
            raise fail(f"marts.{name}: columns {unknown} are checked but not declared under `columns:` - declare them")
        ranges = tuple(Range(c, _num(r[0]), _num(r[1])) for c, r in (m.get("ranges") or {}).items())
        labels = tuple(LabelBand(c, float(b[0]), float(b[1])) for c, b in (m.get("labels") or {}).items())
        for band in labels:
            if columns[band.column] != "boolean":
                raise fail(f"marts.{name}.labels.{band.column}: a prevalence band needs a boolean column")
            if not 0 <= band.min <= band.max <= 1:
                raise fail(f"marts.{name}.labels.{band.column}: band must satisfy 0 <= min <= max <= 1")
        completeness = tuple(
            Modality(mod_name, tuple(mod["columns"]), float(mod["min_non_null"]))
            for mod_name, mod in (m.get("completeness") or {}).items()
        )
        marts[name] = MartSpec(
            name=name,
            description=str(m.get("description", "")).strip(),
            key=key,
            columns=columns,
            not_null=tuple(m.get("not_null") or ()),
            ranges=ranges,
            labels=labels,
            completeness=completeness,
            suppressed_counts=tuple(m.get("suppressed_counts") or ()),
            drift=tuple(m.get("drift") or ()),
            min_rows=int(m.get("min_rows", 1)),
            deidentify=bool(m.get("deidentify", False)),
        )
    checkpoints = {}
    for name, c in (raw.get("checkpoints") or {}).items():
        missing = [mart for mart in c.get("marts", []) if mart not in marts]
        if missing:
            raise fail(f"checkpoints.{name}: unknown marts {missing} - declare them under `marts:`")
        checkpoints[name] = CheckpointSpec(name, str(c.get("description", "")).strip(), tuple(c["marts"]))
    d = raw.get("deidentification") or {}
    for kind, pattern in (d.get("identifier_value_shapes") or {}).items():
        try:
            re.compile(pattern)
        except re.error as exc:
            raise fail(f"deidentification.identifier_value_shapes.{kind}: bad regex ({exc})")
    deid = DeidSpec(
        forbidden_column_names=tuple(d.get("forbidden_column_names") or ()),
        identifier_value_shapes=dict(d.get("identifier_value_shapes") or {}),
    )
    drift = DriftSpec(**(raw.get("drift") or {}))
    return GateSpec(
        marts=marts,
        checkpoints=checkpoints,
        deid=deid,
        drift=drift,
        label_band_z=float(raw.get("label_band_z", 3.0)),
        small_cell_threshold=int(raw.get("small_cell_threshold", 11)),
    )


def _num(v: Any) -> float | None:
    return None if v is None else float(v)
