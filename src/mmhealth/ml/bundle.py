"""Opening a run folder's models for scoring, and packing them for SageMaker."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from mmhealth.errors import MMHealthError
from mmhealth.ml import inference
from mmhealth.ml.estimators import MODEL_TYPES
from mmhealth.ml.schema import FeatureSchema, modality_sets, set_name


def model_spec(run: str | Path, modalities: str = "all", model_type: str = "selected") -> dict:
    """The inference spec (see inference.py) of one modality set of a run."""
    run = Path(run)
    manifest_path = run / "manifest.json"
    if not manifest_path.is_file():
        raise MMHealthError(f"{run}: not a training run (no manifest.json) - pass the --out folder of "
                            "`mmhealth train`")
    if model_type not in (*MODEL_TYPES, "selected"):
        raise MMHealthError(f"--model-type {model_type}: choose one of selected, {', '.join(MODEL_TYPES)}")
    try:
        (mods,) = modality_sets([modalities])
    except ValueError as exc:
        raise MMHealthError(f"--modalities {modalities}: {exc}") from exc
    manifest = json.loads(manifest_path.read_text())
    schema = FeatureSchema.from_json(json.loads((run / "schema.json").read_text()))
    chosen = [m for m in manifest["models"] if tuple(m["modalities"]) == mods]
    if not chosen:
        have = sorted({"+".join(m["modalities"]) for m in manifest["models"]})
        raise MMHealthError(f"{run}: no models for modalities {set_name(mods)}; this run has "
                            f"{', '.join(have) or 'none'} - pick one with --modalities or retrain")
    names = set(chosen[0]["features"])
    trained = {m["outcome"] for m in manifest["models"]}
    missing = sorted(trained - {m["outcome"] for m in chosen})
    features = [vars(f) for f in schema.features if f.name in names]
    known = [schema.id_column, *filter(None, [schema.index_date_column]), *schema.labels.values(),
             *schema.presence.values(), *schema.ignored, *(f.name for f in schema.features)]
    return {
        "modalities": list(mods),
        "model_type": model_type,
        "id_column": schema.id_column,
        "features": features,
        "known_columns": sorted(set(known)),
        "outcomes": {m["outcome"]: m["path"] for m in chosen},
        # The family that serves each outcome: training's nested-CV choice for "selected" (runs written before
        # selection existed have none and serve the stack).
        "families": {m["outcome"]: (m.get("selected", "stacked") if model_type == "selected" else model_type)
                     for m in chosen},
        "provenance": manifest.get("provenance", {}),
        "versions": manifest.get("versions", {}),
        # Outcomes with a model in another set but not this one (too few cases among these patients).
        "outcomes_without_model": missing,
        "presence": {m: c for m, c in schema.presence.items() if m in mods},
    }


def open_model(run: str | Path, modalities: str = "all", model_type: str = "selected") -> inference.Model:
    import joblib

    spec = model_spec(run, modalities, model_type)
    estimators = {}
    for outcome, rel in spec["outcomes"].items():
        stack = joblib.load(Path(run) / rel)
        estimators[outcome] = inference.member(stack, inference.family(spec, model_type, outcome))
    return inference.Model(spec, estimators)


def export_sagemaker(run: str | Path, out: str | Path, modalities: str = "all",
                     model_type: str = "selected") -> Path:
    """model.tar.gz for SageMaker's scikit-learn container: the models and inference.json at the root, the
    handler script and the extra requirement (LightGBM, absent from that image) under code/."""
    run, out = Path(run), Path(out)
    spec = model_spec(run, modalities, model_type)
    out.parent.mkdir(parents=True, exist_ok=True)

    def add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(data))

    versions = spec.get("versions", {})
    requirements = f"lightgbm=={versions.get('lightgbm', '')}\n" if versions.get("lightgbm") else "lightgbm\n"
    with tarfile.open(out, "w:gz") as tar:
        add_bytes(tar, inference.SPEC_FILE, json.dumps(spec, indent=2, default=str).encode())
        for rel in spec["outcomes"].values():
            tar.add(run / rel, arcname=rel)
        add_bytes(tar, "code/inference.py", Path(inference.__file__).read_bytes())
        add_bytes(tar, "code/requirements.txt", requirements.encode())
    return out
