"""Scoring with a trained model: input validation, typing, prediction - and the SageMaker handlers.

This module is deliberately standalone (standard library, numpy, pandas, joblib; scikit-learn and LightGBM
only through the pickled models): `train --export sagemaker` copies this very file into model.tar.gz as
`code/inference.py`, where SageMaker's scikit-learn serving container calls model_fn / input_fn /
predict_fn / output_fn. `mmhealth predict` and `mmhealth serve` use the same functions, so batch, HTTP and
SageMaker give the same probabilities for the same records.

A model folder holds `inference.json` (the spec below) and the joblib files it names:
  {"modalities": [...], "model_type": "selected|stacked|logistic|lightgbm", "id_column": "patient_key",
   "families": {"stroke": "logistic", ...} (with "selected": the family training's nested CV chose per outcome),
   "features": [{"name", "modality", "kind": "numeric|categorical"}], "known_columns": [...],
   "outcomes": {"stroke": "models/stroke/clinical.joblib", ...}, "presence": {"imaging": "has_imaging..."},
   "provenance": {...}}
"""

from __future__ import annotations

import io
import json
import math
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

SPEC_FILE = "inference.json"
MAX_RECORDS = 10_000


class InputError(Exception):
    """Bad input: `status` is the HTTP code (400 malformed or invalid, 413 too many, 415 content type)."""

    def __init__(self, message: str, errors: list[str] | None = None, status: int = 400):
        super().__init__(message)
        self.errors = errors or []
        self.status = status

    def to_json(self) -> dict:
        return {"error": str(self), "details": self.errors}


@dataclass
class Model:
    spec: dict
    estimators: dict  # outcome -> fitted estimator with predict_proba

    @property
    def features(self) -> list[dict]:
        return self.spec["features"]


def model_input(frame: pd.DataFrame, features) -> pd.DataFrame:
    """The columns a model sees, typed identically at training and inference: numbers and booleans as float64
    with NaN for missing, categories as Python strings with None for missing."""
    out = {}
    for f in features:
        name, kind = (f["name"], f["kind"]) if isinstance(f, dict) else (f.name, f.kind)
        col = frame[name]
        if kind == "numeric":
            out[name] = _numeric(col)
        else:
            out[name] = col.astype("object").map(lambda v: None if _missing(v) else str(v)).astype("object")
    return pd.DataFrame(out, index=frame.index)


_BOOL_WORDS = {"true": 1.0, "false": 0.0, "t": 1.0, "f": 0.0}


def _numeric(col: pd.Series) -> pd.Series:
    """Numbers as float64; booleans and their CSV spellings ("True", "false") as 1/0; anything else NaN."""
    if pd.api.types.is_bool_dtype(col.dtype) or pd.api.types.is_numeric_dtype(col.dtype):
        # The common case (Parquet, the feature store's Integral/Fractional, JSON numbers): no per-value work.
        return pd.Series(col.to_numpy(dtype="float64", na_value=np.nan), index=col.index)
    values = col.astype("object").where(col.notna(), np.nan)
    values = values.map(lambda v: _BOOL_WORDS.get(v.strip().lower(), v) if isinstance(v, str) else v)
    return pd.to_numeric(values, errors="coerce").astype("float64")


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA or v is pd.NaT


def load(model_dir: str, model_type: str | None = None) -> Model:
    import joblib

    with open(os.path.join(model_dir, SPEC_FILE)) as fh:
        spec = json.load(fh)
    kind = model_type or spec.get("model_type", "stacked")
    estimators = {}
    for outcome, rel in spec["outcomes"].items():
        stack = joblib.load(os.path.join(model_dir, rel))
        estimators[outcome] = member(stack, family(spec, kind, outcome))
    return Model({**spec, "model_type": kind}, estimators)


def family(spec: dict, kind: str, outcome: str) -> str:
    """The model family that serves `outcome`: the one named, or for "selected" the one training chose."""
    if kind == "selected":
        return (spec.get("families") or {}).get(outcome, "stacked")
    return kind


def member(stack, kind: str):
    """The stack holds the fitted logistic and LightGBM members: any family serves from one file."""
    return stack if kind == "stacked" else stack.named_estimators_[kind]


def check_records(records, spec: dict) -> pd.DataFrame:
    """JSON records (one object or a list) -> a frame, or InputError listing every problem found."""
    if isinstance(records, dict) and isinstance(records.get("instances"), list):
        records = records["instances"]  # SageMaker / TF-serving style envelope
    if isinstance(records, dict):
        records = [records]
    if not isinstance(records, list) or not records:
        raise InputError("expected a JSON object (one record) or a non-empty list of objects")
    if len(records) > MAX_RECORDS:
        raise InputError(f"{len(records)} records in one request; the limit is {MAX_RECORDS}", status=413)
    known = set(spec.get("known_columns", [])) | {f["name"] for f in spec["features"]}
    errors: list[str] = []
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            errors.append(f"record {i}: expected an object, got {type(rec).__name__}")
            continue
        missing = [f["name"] for f in spec["features"] if f["name"] not in rec]
        if missing:
            errors.append(f"record {i}: missing feature(s) {', '.join(missing)} (send null when unknown)")
        unknown = sorted(k for k in rec if k not in known)
        if unknown:
            errors.append(f"record {i}: unknown field(s) {', '.join(unknown)}")
        for f in spec["features"]:
            v = rec.get(f["name"])
            if v is None:
                continue
            if f["kind"] == "numeric":
                if isinstance(v, bool):
                    continue
                if not isinstance(v, (int, float)) or (isinstance(v, float) and not math.isfinite(v)):
                    errors.append(f"record {i}: {f['name']} must be a finite number or null, got {v!r}")
            elif not isinstance(v, str):
                errors.append(f"record {i}: {f['name']} must be a string or null, got {v!r}")
        if len(errors) >= 50:
            errors.append("... (stopped after 50 problems)")
            break
    if errors:
        raise InputError(f"{len(errors)} problem(s) in the input", errors)
    return pd.DataFrame.from_records(records)


def check_frame(frame: pd.DataFrame, spec: dict) -> pd.DataFrame:
    """Batch input (Parquet / CSV) -> the same checks by column."""
    errors = []
    missing = [f["name"] for f in spec["features"] if f["name"] not in frame.columns]
    if missing:
        errors.append(f"missing feature column(s) {', '.join(missing)}")
    for f in spec["features"]:
        if f["name"] not in frame.columns or f["kind"] != "numeric":
            continue
        col = frame[f["name"]]
        if pd.api.types.is_bool_dtype(col.dtype) or pd.api.types.is_numeric_dtype(col.dtype):
            bad = ~np.isfinite(col.astype("float64")) & col.notna()
        else:
            bad = col.notna() & _numeric(col).isna()
        if bad.any():
            rows = ", ".join(str(int(r)) for r in np.flatnonzero(bad.to_numpy())[:5])
            errors.append(f"{f['name']}: {int(bad.sum())} non-numeric value(s), first at row(s) {rows}")
    if errors:
        raise InputError(f"{len(errors)} problem(s) in the input", errors)
    return frame


def complete_modalities(model: Model, frame: pd.DataFrame) -> np.ndarray:
    """Per row: does it have every modality the models were trained on? The models only saw such patients;
    a row without one (its features imputed) is scored, but flagged as outside the training population. Uses
    the presence flag when the row carries it, else "any non-null feature of the modality"."""
    ok = np.ones(len(frame), dtype=bool)
    for modality in model.spec["modalities"]:
        flag = model.spec.get("presence", {}).get(modality)
        if flag and flag in frame.columns:
            ok &= _numeric(frame[flag]).fillna(0).to_numpy() > 0
        else:
            cols = [f["name"] for f in model.features if f["modality"] == modality and f["name"] in frame.columns]
            ok &= frame[cols].notna().any(axis=1).to_numpy() if cols else False
    return ok


def predict(model: Model, frame: pd.DataFrame) -> list[dict]:
    """One dict per row: the identifier (when given), the probability of each outcome, and whether the row
    has every modality of the set (see complete_modalities)."""
    X = model_input(frame, model.features)
    complete = complete_modalities(model, frame)
    probs = {o: est.predict_proba(X)[:, 1] for o, est in model.estimators.items()}
    id_col = model.spec.get("id_column")
    out = []
    for i in range(len(frame)):
        row = {}
        if id_col and id_col in frame.columns and not _missing(frame[id_col].iloc[i]):
            row[id_col] = str(frame[id_col].iloc[i])
        row["probabilities"] = {o: float(p[i]) for o, p in probs.items()}
        row["complete_modalities"] = bool(complete[i])
        out.append(row)
    return out


# --- SageMaker scikit-learn serving container handlers -------------------------------------------------

def model_fn(model_dir):
    return load(model_dir)


def input_fn(request_body, request_content_type):
    if isinstance(request_body, (bytes, bytearray)):
        try:
            request_body = request_body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"request body is not UTF-8 text: {exc}") from exc
    ctype = (request_content_type or "application/json").split(";")[0].strip().lower()
    if ctype == "application/json":
        try:
            return ("records", json.loads(request_body))
        except json.JSONDecodeError as exc:
            raise InputError(f"request body is not valid JSON: {exc}") from exc
    if ctype == "text/csv":
        try:
            return ("frame", pd.read_csv(io.StringIO(request_body)))
        except (ValueError, pd.errors.ParserError) as exc:
            raise InputError(f"request body is not CSV with a header row: {exc}") from exc
    raise InputError(f"content type {ctype} not supported; send application/json or text/csv with a header",
                     status=415)


def predict_fn(input_data, model):
    kind, payload = input_data
    frame = check_records(payload, model.spec) if kind == "records" else check_frame(payload, model.spec)
    return predict(model, frame)


def output_fn(prediction, accept):
    accept = (accept or "application/json").split(";")[0].strip().lower()
    if accept in ("application/json", "*/*"):
        return json.dumps({"predictions": prediction}), "application/json"
    raise InputError(f"accept type {accept} not supported; use application/json", status=406)
