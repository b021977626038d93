"""What each column of the feature table is: identifier, index date, label, modality flag or a feature of one
modality. The mapping comes from metadata - the feature group definition, the dbt manifest's column meta, or
the naming-convention table in feature_roles.py - never from lists of feature names in the code."""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from itertools import combinations

import pandas as pd

from mmhealth.ml import feature_roles

MODALITIES = ("clinical", "genomic", "imaging")
OUTCOMES = ("stroke", "hypertension", "coronary_heart_disease", "alzheimers")

ID_NAMES = ("patient_key",)
INDEX_DATE_NAMES = ("index_date",)
# Feature-store bookkeeping columns: never features.
BOOKKEEPING = {"event_time", "write_time", "api_invocation_time", "is_deleted", "ingested_at", "published_at"}


@dataclass(frozen=True)
class Feature:
    name: str
    modality: str
    kind: str  # "numeric" or "categorical"


@dataclass
class FeatureSchema:
    """The roles of the feature table's columns, stored with every trained model (serving validates with it)."""

    id_column: str
    index_date_column: str | None
    features: list[Feature]
    labels: dict[str, str]  # outcome -> column
    presence: dict[str, str] = field(default_factory=dict)  # modality -> flag column
    ignored: dict[str, str] = field(default_factory=dict)  # column -> why it is not a feature
    dated_columns: list[str] = field(default_factory=list)
    prevalent: dict[str, str] = field(default_factory=dict)  # outcome -> prior-condition flag column
    mapped_by: dict[str, str] = field(default_factory=dict)  # feature -> which metadata gave its modality
    observed_column: str | None = None  # true where the data reaches the end of the label window

    def features_of(self, modalities: tuple[str, ...]) -> list[Feature]:
        return [f for f in self.features if f.modality in modalities]

    def to_json(self) -> dict:
        return {
            "id_column": self.id_column,
            "index_date_column": self.index_date_column,
            "features": [vars(f) for f in self.features],
            "labels": self.labels,
            "presence": self.presence,
            "ignored": self.ignored,
            "dated_columns": self.dated_columns,
            "prevalent": self.prevalent,
            "mapped_by": self.mapped_by,
            "observed_column": self.observed_column,
        }

    @classmethod
    def from_json(cls, data: dict) -> "FeatureSchema":
        return cls(
            id_column=data["id_column"],
            index_date_column=data.get("index_date_column"),
            features=[Feature(**f) for f in data["features"]],
            labels=dict(data["labels"]),
            presence=dict(data.get("presence", {})),
            ignored=dict(data.get("ignored", {})),
            dated_columns=list(data.get("dated_columns", [])),
            prevalent=dict(data.get("prevalent", {})),
            mapped_by=dict(data.get("mapped_by", {})),
            observed_column=data.get("observed_column"),
        )


def modality_sets(names: list[str] | None = None) -> list[tuple[str, ...]]:
    """Every non-empty combination of the modalities (singles, pairs, all three), or the ones asked for.

    `names` holds entries like "clinical", "clinical+imaging" or "all"."""
    every = [c for r in range(1, len(MODALITIES) + 1) for c in combinations(MODALITIES, r)]
    if not names:
        return every
    out: list[tuple[str, ...]] = []
    for name in names:
        if name == "all":
            wanted = MODALITIES
        else:
            parts = tuple(p.strip() for p in name.split("+") if p.strip())
            bad = [p for p in parts if p not in MODALITIES]
            if bad:
                raise ValueError(f"unknown modality {bad[0]!r}; choose from {', '.join(MODALITIES)} or all")
            wanted = tuple(m for m in MODALITIES if m in parts)
        if wanted not in out:
            out.append(wanted)
    return out


def set_name(modalities: tuple[str, ...]) -> str:
    return "+".join(modalities)


def _modality_from_patterns(column: str) -> str | None:
    lower = column.lower()
    for modality, patterns in feature_roles.MODALITY_PATTERNS.items():
        if any(fnmatchcase(lower, p) for p in patterns):
            return modality
    return None


def _is_dated(series: pd.Series, name: str) -> bool:
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return True
    textual = series.dtype == object or pd.api.types.is_string_dtype(series.dtype)
    if textual and name.endswith(("_date", "_at", "_time", "_datetime")):
        sample = series.dropna().head(20)
        return len(sample) > 0 and all(hasattr(v, "year") or _parses_as_date(v) for v in sample)
    return False


def _parses_as_date(value) -> bool:
    if not isinstance(value, str):
        return False
    try:
        pd.Timestamp(value)
    except (ValueError, TypeError):
        return False
    return True


def infer_schema(
    frame: pd.DataFrame,
    *,
    column_meta: dict[str, dict] | None = None,
    id_column: str | None = None,
    event_time_column: str | None = None,
) -> FeatureSchema:
    """Assign every column a role. `column_meta` maps column -> metadata dict (from the feature group
    definition or dbt's manifest); its `modality` decides the column's modality and its `ml_role` (see
    feature_roles.ML_ROLES) can take a column out of the features. Otherwise feature_roles' patterns decide."""
    column_meta = column_meta or {}
    columns = list(frame.columns)

    def with_role(role: str) -> list[str]:
        return [c for c in columns if column_meta.get(c, {}).get("ml_role") == role]

    id_col = id_column or next(iter(with_role("identifier")), None) or next(
        (c for c in ID_NAMES if c in columns), None)
    if id_col is None:
        raise ValueError(f"no patient identifier column (expected one of {', '.join(ID_NAMES)})")
    index_col = next(iter(with_role("index_date")), None) or next((c for c in INDEX_DATE_NAMES if c in columns),
                                                                   None)

    labels: dict[str, str] = {}
    for outcome in OUTCOMES:
        for candidate in (outcome, f"label_{outcome}", f"{outcome}_label"):
            if candidate in columns:
                labels[outcome] = candidate
                break
    presence: dict[str, str] = {}
    for modality, names in feature_roles.PRESENCE_FLAGS.items():
        for candidate in names:
            if candidate in columns:
                presence[modality] = candidate
                break
    for column in columns:  # metadata: ml_role presence + modality (or "presence:<modality>") wins
        meta = column_meta.get(column, {})
        role = str(meta.get("ml_role", ""))
        if role == "presence" and meta.get("modality") in MODALITIES:
            presence[meta["modality"]] = column
        elif role.startswith("presence:") and role.split(":", 1)[1] in MODALITIES:
            presence[role.split(":", 1)[1]] = column
    prevalent = {o: feature_roles.PREVALENT_FLAG.format(outcome=o) for o in labels
                 if feature_roles.PREVALENT_FLAG.format(outcome=o) in columns}
    label_like = set(with_role("label")) - set(labels.values())

    reserved = {id_col, index_col, *labels.values(), *presence.values()} - {None}
    mapped_by: dict[str, str] = {}
    features: list[Feature] = []
    ignored: dict[str, str] = {}
    dated: list[str] = []
    for column in columns:
        if column in reserved:
            continue
        if column in BOOKKEEPING or column == event_time_column:
            ignored[column] = "feature-store bookkeeping"
            continue
        series = frame[column]
        meta = column_meta.get(column, {})
        role = meta.get("ml_role")
        if column in feature_roles.LABEL_CONTEXT or role == "label_context":
            ignored[column] = "describes the label window (after the index date by design), not the patient"
            continue
        if role in ("exclude", "identifier", "index_date", "presence") or column in label_like:
            ignored[column] = f"metadata ml_role: {role}" + (" (not one of the four outcomes)"
                                                              if column in label_like else "")
            continue
        if _is_dated(series, column):
            dated.append(column)
            ignored[column] = "date column: checked against the index date, not used as a feature"
            continue
        modality = meta.get("modality")
        source = meta.get("_source", "metadata")
        if not modality:
            modality, source = _modality_from_patterns(column), "name pattern (ml/feature_roles.py)"
        if modality == "genomics":
            modality = "genomic"
        if modality not in MODALITIES:
            ignored[column] = "no modality in metadata or name patterns"
            continue
        if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
            kind = "numeric"
        elif series.dtype == object or pd.api.types.is_string_dtype(series.dtype) or isinstance(
            series.dtype, pd.CategoricalDtype
        ):
            kind = "categorical"
        else:
            ignored[column] = f"unsupported type {series.dtype}"
            continue
        if series.isna().all():
            ignored[column] = "always null"
            continue
        features.append(Feature(column, modality, kind))
        mapped_by[column] = source
    return FeatureSchema(
        id_column=id_col,
        index_date_column=index_col,
        features=features,
        labels=labels,
        presence=presence,
        ignored=ignored,
        dated_columns=dated,
        prevalent=prevalent,
        mapped_by=mapped_by,
        observed_column=feature_roles.OBSERVED_WINDOW_FLAG if feature_roles.OBSERVED_WINDOW_FLAG in columns else None,
    )


def presence_mask(frame: pd.DataFrame, schema: FeatureSchema, modalities: tuple[str, ...]) -> pd.Series:
    """Rows of patients who have every modality in the set: the mart's has_* flag where there is one,
    otherwise any non-null feature of that modality."""
    mask = pd.Series(True, index=frame.index)
    for modality in modalities:
        flag = schema.presence.get(modality)
        if flag is not None:
            mask &= frame[flag].fillna(False).astype(bool)
        else:
            cols = [f.name for f in schema.features_of((modality,))]
            mask &= frame[cols].notna().any(axis=1) if cols else False
    return mask
