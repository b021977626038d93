"""Loading the published features (local versioned offline store, or SageMaker's offline store in S3) into
one frame plus its schema and provenance, and the as-of guard that refuses features dated after the index
date."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from mmhealth.errors import MMHealthError
from mmhealth.ml.schema import FeatureSchema, infer_schema

DEFAULT_FEATURE_GROUP = "mmhealth-features-cardiovascular"  # what `features publish` names the mart's group
SOURCE_MODEL = "features_cardiovascular"


@dataclass
class Provenance:
    """Where the training data came from; written into every run so a model names its data."""

    source: str  # "local", "sagemaker-offline" or "frame"
    location: str
    feature_group: str | None = None
    version: str | None = None
    store_hash: str | None = None  # the hash the publisher recorded, when it did
    data_hash: str = ""  # our own hash of exactly the rows and columns trained on
    rows: int = 0
    extra: dict = field(default_factory=dict)


@dataclass
class FeatureData:
    frame: pd.DataFrame
    schema: FeatureSchema
    provenance: Provenance
    oracle: pd.DataFrame | None = None  # evaluation only (ceiling.py): true probabilities by patient_key


def frame_hash(frame: pd.DataFrame) -> str:
    """Content hash independent of row order: sha256 over the sorted per-row hashes and the column names."""
    row_hashes = pd.util.hash_pandas_object(frame, index=False).sort_values().to_numpy()
    digest = hashlib.sha256()
    digest.update("\x1f".join(map(str, frame.columns)).encode())
    digest.update(row_hashes.tobytes())
    return digest.hexdigest()


def _definition_meta(definition: dict) -> tuple[dict[str, dict], str | None, str | None]:
    """Per-column metadata, the record identifier and the event-time column from a feature group definition
    (SageMaker's CreateFeatureGroup shape, or the same in snake_case)."""
    defs = definition.get("FeatureDefinitions") or definition.get("feature_definitions") or []
    meta: dict[str, dict] = {}
    for entry in defs:
        name = entry.get("FeatureName") or entry.get("feature_name") or entry.get("name")
        if not name:
            continue
        info: dict = {}
        for key in ("meta", "Meta", "metadata"):
            if isinstance(entry.get(key), dict):
                info.update(entry[key])
        # SageMaker feature metadata parameters: [{"Key": ..., "Value": ...}]
        for param in entry.get("Parameters") or entry.get("parameters") or []:
            if isinstance(param, dict) and "Key" in param:
                info[param["Key"]] = param.get("Value")
        for key in ("modality", "Modality"):
            if entry.get(key):
                info["modality"] = entry[key]
        if "Modality" in info:
            info["modality"] = info.pop("Modality")
        if info.get("modality"):
            info["_source"] = "feature group definition"
        meta[name] = info
    record_id = definition.get("RecordIdentifierFeatureName") or definition.get("record_identifier_feature_name")
    event_time = definition.get("EventTimeFeatureName") or definition.get("event_time_feature_name")
    return meta, record_id, event_time


def _find_definition(folder: Path) -> tuple[Path, dict] | None:
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(data, dict) and ("FeatureDefinitions" in data or "feature_definitions" in data):
            return path, data
    return None


def _version_key(path: Path) -> tuple:
    """v2 < v10: numeric order for the publisher's v<N> folders, name order otherwise."""
    digits = path.name.lstrip("v")
    return (0, int(digits), "") if digits.isdigit() else (1, 0, path.name)


def _resolve_version_folder(store: Path, feature_group: str, version: str | None) -> Path:
    """Accepts the version folder itself, the feature group folder (newest version wins) or the store root
    (the named group, or its only group)."""
    if _find_definition(store) and any(store.rglob("*.parquet")):
        return store
    group = store / feature_group
    if not group.is_dir():
        groups = [p for p in store.iterdir() if p.is_dir() and any(_find_definition(v) for v in p.iterdir()
                                                                    if v.is_dir())] if store.is_dir() else []
        if len(groups) == 1:
            group = groups[0]
        elif any(p.is_dir() and _find_definition(p) for p in store.iterdir()):
            group = store
    candidates = [p for p in group.iterdir() if p.is_dir() and not p.name.startswith(".")
                  and _find_definition(p)] if group.is_dir() else []
    if version is not None:
        wanted = str(version).lstrip("v")
        candidates = [p for p in candidates if p.name.lstrip("v") == wanted]
    if not candidates:
        raise MMHealthError(
            f"{store}: no published feature group {feature_group!r}"
            + (f" version {version}" if version else "")
            + " (a folder with Parquet and the definition JSON) - run `mmhealth features publish --to local`"
        )
    return max(candidates, key=_version_key)


def load_local(store: str | Path, feature_group: str = DEFAULT_FEATURE_GROUP, version: str | None = None,
               manifest: str | Path | None = None) -> FeatureData:
    store = Path(store)
    if not store.exists():
        raise MMHealthError(f"{store}: feature store not found - run `mmhealth features publish --to local` "
                            "or pass --store")
    folder = _resolve_version_folder(store, feature_group, version)
    def_path, definition = _find_definition(folder)  # type: ignore[misc]
    files = sorted(folder.rglob("*.parquet"))
    if not files:
        raise MMHealthError(f"{folder}: no Parquet files beside {def_path.name} - republish the feature group")
    frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    meta, record_id, event_time = _definition_meta(definition)
    meta = _merge_manifest_meta(meta, manifest, definition)
    # The publisher's manifest.json beside the data: version, content hash of the gated mart, quality run.
    published = {}
    if (folder / "manifest.json").is_file():
        published = json.loads((folder / "manifest.json").read_text())
    provenance = Provenance(
        source="local",
        location=str(folder),
        feature_group=definition.get("FeatureGroupName") or definition.get("feature_group_name") or feature_group,
        version=str(published.get("version") or definition.get("version") or folder.name),
        store_hash=published.get("content_hash") or definition.get("content_hash") or definition.get("data_hash"),
        extra={k: published[k] for k in ("quality_run_id", "published_at", "source") if k in published},
    )
    return prepare(frame, provenance, column_meta=meta, id_column=record_id, event_time_column=event_time)


def _merge_manifest_meta(meta: dict[str, dict], manifest: str | Path | None, definition: dict) -> dict[str, dict]:
    """dbt's manifest column meta (e.g. `meta.modality`) fills in what the definition does not say. Read through
    mmhealth.manifest, the reader every stage shares (`config.meta` wins over `meta`, per key)."""
    from mmhealth.manifest import load_manifest

    if manifest is None or not Path(manifest).is_file():
        return meta
    model = load_manifest(manifest).find(definition.get("source_model") or SOURCE_MODEL)
    for col in model.columns if model is not None else ():
        col_meta = dict(col.meta)
        if col_meta.get("modality"):
            col_meta["_source"] = "dbt manifest meta"
        col_meta.update(meta.get(col.name, {}))  # the definition travels with the data: it wins
        meta[col.name] = col_meta
    return meta


def load_sagemaker_offline(feature_group: str, *, session=None, endpoint_url: str | None = None) -> FeatureData:
    """Read a feature group's offline store (Parquet in S3), keep the newest non-deleted record per
    identifier - what a point-in-time query for "now" returns."""
    import boto3
    import pyarrow.parquet as pq
    import io

    session = session or boto3.session.Session()
    sm = session.client("sagemaker", endpoint_url=endpoint_url)
    s3 = session.client("s3", endpoint_url=endpoint_url)
    try:
        desc = sm.describe_feature_group(FeatureGroupName=feature_group)
    except Exception as exc:  # botocore ClientError and friends: the message says what AWS said
        raise MMHealthError(f"feature group {feature_group}: cannot describe it ({exc}) - publish it with "
                            "`mmhealth features publish --to sagemaker` or check credentials/region") from exc
    s3conf = desc.get("OfflineStoreConfig", {}).get("S3StorageConfig", {})
    uri = s3conf.get("ResolvedOutputS3Uri") or s3conf.get("S3Uri")
    if not uri:
        raise MMHealthError(f"feature group {feature_group}: has no offline store - recreate it with one")
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", []) if o["Key"].endswith(".parquet")]
    if not s3conf.get("ResolvedOutputS3Uri"):
        # Without the resolved URI, the offline store lives under <S3Uri>/<account>/sagemaker/<region>/
        # offline-store/<name>-<timestamp>/; keep only this group's folder.
        keys = [k for k in keys if f"/{feature_group}-" in k or "/offline-store/" not in k]
    if not keys:
        raise MMHealthError(f"{uri}: no Parquet in the offline store of {feature_group} yet - the offline store "
                            "fills a few minutes after ingestion; retry later")
    frames = [pq.read_table(io.BytesIO(s3.get_object(Bucket=bucket, Key=k)["Body"].read())).to_pandas()
              for k in sorted(keys)]
    frame = pd.concat(frames, ignore_index=True)
    record_id = desc["RecordIdentifierFeatureName"]
    event_time = desc["EventTimeFeatureName"]
    sort_cols = [c for c in (event_time, "api_invocation_time") if c in frame.columns]
    frame = frame.sort_values(sort_cols).drop_duplicates(record_id, keep="last")
    if "is_deleted" in frame.columns:
        frame = frame[~frame["is_deleted"].astype(bool)]
    frame = frame.drop(columns=[c for c in ("write_time", "api_invocation_time", "is_deleted") if c in frame])
    meta, _, _ = _definition_meta(desc)
    provenance = Provenance(source="sagemaker-offline", location=uri, feature_group=feature_group,
                            version=str(desc.get("CreationTime", "")))
    return prepare(frame.reset_index(drop=True), provenance, column_meta=meta, id_column=record_id,
                   event_time_column=event_time)


def prepare(frame: pd.DataFrame, provenance: Provenance | None = None, *, column_meta: dict | None = None,
            id_column: str | None = None, event_time_column: str | None = None) -> FeatureData:
    """Schema, as-of guard and hash for a feature frame from any source."""
    try:
        schema = infer_schema(frame, column_meta=column_meta, id_column=id_column,
                              event_time_column=event_time_column)
    except ValueError as exc:
        where = provenance.location if provenance else "features"
        raise MMHealthError(f"{where}: {exc} - publish the features_cardiovascular mart") from exc
    provenance = provenance or Provenance(source="frame", location="<in-memory>")
    if not schema.labels:
        raise MMHealthError(f"{provenance.location}: no label columns (expected some of stroke, hypertension, "
                            "coronary_heart_disease, alzheimers) - publish the features_cardiovascular mart")
    if not schema.features:
        raise MMHealthError(f"{provenance.location}: no feature column maps to a modality - name features "
                            "clinical_/genomic_/imaging_* or set meta.modality on the mart's columns")
    provenance.extra["as_of_check"] = check_as_of(frame, schema, where=provenance.location)
    provenance.rows = len(frame)
    provenance.data_hash = frame_hash(frame)
    return FeatureData(frame, schema, provenance)


def check_as_of(frame: pd.DataFrame, schema: FeatureSchema, *, where: str = "features") -> str:
    """Refuse data where a dated column lies after the patient's index date: such a feature would carry
    information from the future (the leakage the reference system had). Returns what was checked, for the run
    record - including when nothing could be (the publisher leaves the index date, classified phi, behind)."""
    if schema.index_date_column is None:
        if schema.dated_columns:
            raise MMHealthError(f"{where}: dated columns {', '.join(schema.dated_columns)} but no index_date "
                                "to check them against - publish the mart with its index_date column "
                                "(features publish --include-phi) or leave the dated columns out")
        return ("not applicable: the published features hold no dated column (the index date is classified "
                "phi and not published); the mart filters every input to on or before it (dbt leakage test)")
    index = pd.to_datetime(frame[schema.index_date_column], utc=True, errors="coerce")
    for column in schema.dated_columns:
        values = pd.to_datetime(frame[column], utc=True, errors="coerce")
        # Dates without time of day mean "that day": only a later day counts as future.
        late = values.dt.normalize() > index.dt.normalize()
        if late.any():
            raise MMHealthError(
                f"{where}: column {column} is after {schema.index_date_column} for {int(late.sum())} "
                f"of {len(frame)} rows - features must only use information up to the index date; fix the mart"
            )
    if not schema.dated_columns:
        return f"passed: no dated feature column besides {schema.index_date_column}"
    return (f"passed: {', '.join(schema.dated_columns)} on or before {schema.index_date_column} in every row")
