"""Which mart columns dbt classifies as PHI (`meta.sensitivity: phi`), so publishing can leave them behind.

A feature store is outside the governed lake: SageMaker copies records into its online and offline stores, where
Lake Formation's column grants no longer apply. Columns the dbt project classifies as `phi` (for the feature
table, the exact index and label-window dates) are therefore not published unless asked for explicitly.
The classification is read through `mmhealth.manifest` - the reader governance, the quality gate and the
dashboards use, with the same `meta` / `config.meta` rule and sensitivity ladder - from dbt's `manifest.json`
or, without a parsed project, from the model YAML under `models/`.
"""

from __future__ import annotations

from pathlib import Path

from mmhealth.errors import MMHealthError
from mmhealth.manifest import is_phi, load_manifest, models_from_yaml


def column_sensitivity(mart: str, manifest: Path | None, models_dir: Path | None) -> dict[str, str | None]:
    """Column -> sensitivity (None when unclassified) for `mart`, from the manifest if there is one, else from
    the model YAML."""
    if manifest is not None and manifest.exists():
        model = load_manifest(manifest).find(mart)
        if model is not None:
            return model.sensitivity()
    if models_dir is not None and models_dir.is_dir():
        model = models_from_yaml(models_dir).find(mart)
        if model is not None:
            return model.sensitivity()
    raise MMHealthError(
        f"no sensitivity classification for {mart} (looked in {manifest} and {models_dir}) - run `dbt parse`, "
        "pass --manifest, or --include-phi to publish every column"
    )


def phi_columns(columns: list[str], sensitivity: dict[str, str | None]) -> list[str]:
    """Columns to leave out: treated as PHI on the shared ladder - classified phi, not classified at all, or
    classified with an unknown value (unknown is not safe to publish)."""
    return [c for c in columns if is_phi(sensitivity.get(c))]
