"""Which mart columns dbt classifies as PHI (`meta.sensitivity: phi`), so publishing can leave them behind.

A feature store is outside the governed lake: SageMaker copies records into its online and offline stores, where
Lake Formation's column grants no longer apply. Columns the dbt project classifies as `phi` (for the feature
table, the exact index and label-window dates) are therefore not published unless asked for explicitly.
The classification is read from dbt's `manifest.json` (what the governance stage reads too) or, without a parsed
project, from the model YAML under `models/`.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from mmhealth.errors import MMHealthError


def _meta(column: dict) -> dict:
    return column.get("meta") or (column.get("config") or {}).get("meta") or {}


def classification_from_manifest(manifest: Path, mart: str) -> dict[str, str] | None:
    nodes = json.loads(manifest.read_text()).get("nodes", {})
    for node in nodes.values():
        if node.get("resource_type") == "model" and node.get("name") == mart:
            return {name: str(_meta(col).get("sensitivity", "")) for name, col in node.get("columns", {}).items()}
    return None


def classification_from_models(models_dir: Path, mart: str) -> dict[str, str] | None:
    for path in sorted(models_dir.rglob("*.yml")):
        try:
            doc = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError:
            continue
        for model in doc.get("models") or []:
            if model.get("name") == mart:
                return {c["name"]: str(_meta(c).get("sensitivity", "")) for c in model.get("columns") or []}
    return None


def column_sensitivity(mart: str, manifest: Path | None, models_dir: Path | None) -> dict[str, str]:
    """Column -> sensitivity for `mart`, from the manifest if there is one, else from the model YAML."""
    if manifest is not None and manifest.exists():
        found = classification_from_manifest(manifest, mart)
        if found is not None:
            return found
    if models_dir is not None and models_dir.is_dir():
        found = classification_from_models(models_dir, mart)
        if found is not None:
            return found
    raise MMHealthError(
        f"no sensitivity classification for {mart} (looked in {manifest} and {models_dir}) - run `dbt parse`, "
        "pass --manifest, or --include-phi to publish every column"
    )


def phi_columns(columns: list[str], sensitivity: dict[str, str]) -> list[str]:
    """Columns to leave out: classified phi, or not classified at all (unknown is not safe to publish)."""
    return [c for c in columns if sensitivity.get(c, "") in ("phi", "")]
