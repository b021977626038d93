"""Which columns' values the gate must not quote: the dbt classification, read through mmhealth.manifest (the
reader governance, features and dashboards share: same `meta` / `config.meta` rule, same sensitivity ladder).

The gate's JSON result and summary are written beside the lake and shown in CI logs, outside the governed marts.
For a column treated as PHI (classified phi, unclassified, or classified outside the ladder) a failed
expectation reports counts and the expected bounds, never an observed value such as a minimum date.
"""

from __future__ import annotations

from pathlib import Path

from mmhealth.manifest import is_phi, load_manifest, models_from_yaml


def withheld_columns(marts: list[str], manifest: Path | None, models_dir: Path | None) -> dict[str, frozenset[str] | None]:
    """Mart -> the columns whose values stay out of reports; None for a mart nothing classifies (all withheld).
    The manifest when there is one, else the model YAML (as features publish reads it)."""
    sources = []
    if manifest is not None and manifest.exists():
        sources.append(load_manifest(manifest))
    if models_dir is not None and models_dir.is_dir():
        sources.append(models_from_yaml(models_dir))
    out: dict[str, frozenset[str] | None] = {}
    for mart in marts:
        model = next((m for s in sources if (m := s.find(mart)) is not None), None)
        out[mart] = None if model is None else frozenset(c for c, lvl in model.sensitivity().items() if is_phi(lvl))
    return out


def is_withheld(withheld: frozenset[str] | None, columns: list[str]) -> bool:
    return withheld is None or any(c in withheld for c in columns)
