"""Feature group definitions derived from a mart's schema, and the frame prepared to match them.

SageMaker Feature Store has three feature types: Integral, Fractional and String. Booleans become Integral 0/1
(models read them as numbers), dates and timestamps become ISO-8601 strings, and an `event_time` feature (ISO-8601
UTC, SageMaker's required event-time format) is added: the time the quality gate passed this snapshot, so
republishing the same snapshot gives the same event time.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

import pandas as pd

from mmhealth.errors import MMHealthError

NAME_RE = re.compile(r"^[a-zA-Z0-9]([-_]*[a-zA-Z0-9]){0,63}$")
RESERVED = {"is_deleted", "write_time", "api_invocation_time"}  # SageMaker adds these to the offline store
MAX_FEATURES = 2500
RECORD_ID = "patient_key"
EVENT_TIME = "event_time"


@dataclass(frozen=True)
class Feature:
    name: str
    type: str  # Integral | Fractional | String


@dataclass(frozen=True)
class FeatureGroupDefinition:
    name: str
    record_identifier: str
    event_time: str
    features: tuple[Feature, ...]
    description: str = ""

    def sagemaker_feature_definitions(self) -> list[dict[str, str]]:
        return [{"FeatureName": f.name, "FeatureType": f.type} for f in self.features]

    def to_json(self) -> str:
        """SageMaker's CreateFeatureGroup shape, so the local store's definition can be replayed on AWS."""
        return json.dumps({
            "FeatureGroupName": self.name,
            "RecordIdentifierFeatureName": self.record_identifier,
            "EventTimeFeatureName": self.event_time,
            "FeatureDefinitions": self.sagemaker_feature_definitions(),
            "Description": self.description,
        }, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "FeatureGroupDefinition":
        raw = json.loads(text)
        return cls(raw["FeatureGroupName"], raw["RecordIdentifierFeatureName"], raw["EventTimeFeatureName"],
                   tuple(Feature(f["FeatureName"], f["FeatureType"]) for f in raw["FeatureDefinitions"]),
                   raw.get("Description", ""))

    def as_dict(self) -> dict:
        return asdict(self)


def feature_type(dtype) -> str:
    api = pd.api.types
    if api.is_bool_dtype(dtype) or api.is_integer_dtype(dtype):
        return "Integral"
    if api.is_float_dtype(dtype):
        return "Fractional"
    return "String"


def iso_utc(ts: datetime | str) -> str:
    if isinstance(ts, str):
        ts = datetime.fromisoformat(ts)
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=timezone.utc)
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def prepare_frame(df: pd.DataFrame, event_time: datetime | str, record_identifier: str = RECORD_ID) -> pd.DataFrame:
    """The mart as Feature Store stores it: bool -> 0/1, dates -> ISO strings, plus `event_time`."""
    if record_identifier not in df.columns:
        raise MMHealthError(f"mart has no {record_identifier!r} column - the record identifier must be the "
                            "pseudonymous patient key")
    if EVENT_TIME in df.columns:
        raise MMHealthError(f"mart already has a column named {EVENT_TIME!r} - rename it in the dbt model")
    out = pd.DataFrame(index=df.index)
    for col in df.columns:
        s = df[col]
        if pd.api.types.is_bool_dtype(s):
            out[col] = s.astype("Int64")
        elif pd.api.types.is_datetime64_any_dtype(s):
            present = s.dropna()
            fmt = "%Y-%m-%d" if (present == present.dt.normalize()).all() else "%Y-%m-%dT%H:%M:%SZ"
            out[col] = s.dt.strftime(fmt).astype(object).where(s.notna(), None)
        else:
            out[col] = s
    out[EVENT_TIME] = iso_utc(event_time)
    return out.reset_index(drop=True)


def definition_from_frame(df: pd.DataFrame, group: str, *, record_identifier: str = RECORD_ID,
                          description: str = "") -> FeatureGroupDefinition:
    if not NAME_RE.match(group):
        raise MMHealthError(f"feature group name {group!r} is not valid for SageMaker - use letters, digits, "
                            "'-' or '_' (at most 64), starting and ending with a letter or digit")
    bad = [c for c in df.columns if not NAME_RE.match(str(c)) or str(c).lower() in RESERVED]
    if bad:
        raise MMHealthError(f"columns {bad} cannot be SageMaker feature names (pattern or reserved name) - "
                            "rename them in the dbt model")
    if len(df.columns) > MAX_FEATURES:
        raise MMHealthError(f"{len(df.columns)} columns exceed SageMaker's {MAX_FEATURES} features per group")
    if df[record_identifier].isna().any() or df[record_identifier].duplicated().any():
        raise MMHealthError(f"{record_identifier} has nulls or duplicates - the quality gate should have caught "
                            "this; rerun `mmhealth quality check`")
    features = tuple(Feature(str(c), feature_type(df[c].dtype)) for c in df.columns)
    if dict((f.name, f.type) for f in features)[record_identifier] != "String":
        features = tuple(Feature(f.name, "String") if f.name == record_identifier else f for f in features)
    return FeatureGroupDefinition(group, record_identifier, EVENT_TIME, features, description)


def records(df: pd.DataFrame, definition: FeatureGroupDefinition) -> list[list[dict[str, str]]]:
    """PutRecord `Record` lists: one per row, nulls omitted (Feature Store stores absent features as missing)."""
    kinds = {f.name: f.type for f in definition.features}
    names = [f.name for f in definition.features]
    out = []
    for row in df[names].itertuples(index=False, name=None):
        rec = []
        for name, value in zip(names, row, strict=True):
            if value is None or value is pd.NA or (isinstance(value, float) and value != value):
                continue
            kind = kinds[name]
            if kind == "Integral":
                text = str(int(value))
            elif kind == "Fractional":
                text = repr(float(value))
            else:
                text = str(value)
            rec.append({"FeatureName": name, "ValueAsString": text})
        out.append(rec)
    return out
