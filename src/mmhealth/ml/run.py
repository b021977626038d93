"""A training run: evaluate the table, refit the models, and write the run folder.

RUN/
  results.md, results.json      the table, the oracle beside it and the paired comparisons (results.json also holds
                                 config and provenance)
  plots/*.html                   plotly charts (plots.py): AUROC vs oracle, paired deltas, ROC and calibration
  importances.csv                per outcome x modality set x model family
  models/<outcome>/<set>.joblib  the stack refit on the set's whole population (holds LR and LightGBM); the manifest
                                 names the family nested CV selected, which serve/predict use by default
  schema.json                    column roles; serving validates input against it
  manifest.json                  what each model file is, and the data it came from
"""

from __future__ import annotations

import csv
import json
import platform
import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

from mmhealth.ml import plots
from mmhealth.ml.dataset import FeatureData
from mmhealth.ml.paired import RICHER, Comparison, compare
from mmhealth.ml.report import results_markdown
from mmhealth.ml.schema import MODALITIES, set_name
from mmhealth.ml.train import (CellResult, TrainConfig, evaluate_cell, fit_final, plan, single_threaded_blas,
                               unobserved_rows)


def _versions() -> dict:
    import lightgbm
    import sklearn

    import mmhealth

    return {"mmhealth": mmhealth.__version__, "scikit-learn": sklearn.__version__,
            "lightgbm": lightgbm.__version__, "python": platform.python_version()}


def train_run(data: FeatureData, config: TrainConfig, out: Path, *, progress: bool = True) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    with single_threaded_blas():
        return _train_run(data, config, out, progress)


def _train_run(data: FeatureData, config: TrainConfig, out: Path, progress: bool) -> dict:
    import joblib
    from tqdm import tqdm

    start = time.perf_counter()
    cells: list[CellResult] = []
    todo = plan(data, config)
    for outcome, mods, which in tqdm(todo, desc="evaluate", unit="cell", disable=not progress):
        cells.append(evaluate_cell(data, outcome, mods, which, config))
    comparisons = _comparisons(data, config, cells, progress)
    eval_seconds = time.perf_counter() - start

    models_meta = []
    importance_rows = []
    finals = [(o, m) for o in config.outcomes if o in data.schema.labels for m in config.modality_sets]
    for outcome, mods in tqdm(finals, desc="refit", unit="model", disable=not progress):
        fitted = fit_final(data, outcome, mods, config)
        if fitted is None:
            continue
        rel = Path("models") / outcome / f"{set_name(mods)}.joblib"
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(fitted.model, out / rel)
        models_meta.append({"outcome": outcome, "modalities": list(mods), "path": str(rel),
                            "features": [f.name for f in fitted.features], "n_patients": fitted.n_patients,
                            "selected": fitted.selected,
                            "inner_auroc": {k: round(v, 4) for k, v in fitted.inner_auroc.items()}})
        for row in fitted.importances:
            importance_rows.append({"outcome": outcome, "modalities": set_name(mods), **row})

    _write_plots(cells, comparisons, out / "plots")
    with open(out / "importances.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, ["outcome", "modalities", "model", "feature", "importance"])
        writer.writeheader()
        writer.writerows(importance_rows)

    run = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": _versions(),
        "provenance": asdict(data.provenance),
        "config": {**asdict(config), "outcomes": list(config.outcomes),
                   "modality_sets": [set_name(m) for m in config.modality_sets]},
        "seconds": {"evaluate": round(eval_seconds, 1), "total": round(time.perf_counter() - start, 1)},
        "unobserved_rows": unobserved_rows(data),
        "oracle": data.provenance.extra.get("oracle"),
    }
    (out / "schema.json").write_text(json.dumps(data.schema.to_json(), indent=2))
    (out / "manifest.json").write_text(json.dumps({**run, "models": models_meta}, indent=2, default=str))
    (out / "results.json").write_text(json.dumps({**run, "results": [c.to_json() for c in cells],
                                                  "paired": [c.to_json() for c in comparisons]}, indent=2,
                                                 default=str))
    (out / "results.md").write_text(results_markdown(cells, run, data.schema, comparisons))
    return {"cells": cells, "models": models_meta, "run": run, "paired": comparisons}


def _comparisons(data: FeatureData, config: TrainConfig, cells: list[CellResult], progress: bool) -> list[Comparison]:
    """clinical+genomic, clinical+imaging and all three against clinical alone on the richer set's patients."""
    from tqdm import tqdm

    if not config.compare or ("clinical",) not in config.modality_sets:
        return []
    by_key = {(c.outcome, c.modalities, c.population): c for c in cells}
    todo = [(o, s) for o in config.outcomes if o in data.schema.labels for s in RICHER
            if s in config.modality_sets]
    out = []
    for outcome, mods in tqdm(todo, desc="paired", unit="pair", disable=not progress):
        richer = by_key.get((outcome, mods, "has_set")) or evaluate_cell(data, outcome, mods, "has_set", config)
        clinical = by_key.get((outcome, ("clinical",), "all_three")) if mods == MODALITIES else None
        clinical = clinical or evaluate_cell(data, outcome, ("clinical",), "has:" + set_name(mods), config)
        out.append(compare(clinical, richer, n_boot=config.n_boot, seed=config.seed))
    return out


def _write_plots(cells: list[CellResult], comparisons: list[Comparison], folder: Path) -> None:
    """The AUROC and paired-delta charts, and per outcome ROC and calibration of the selected model of each set
    (first CV repeat's out-of-fold probabilities) on the patients with all three modalities (like for like), with
    the full-information oracle's curve on the same patients."""
    folder.mkdir(parents=True, exist_ok=True)
    plots.auroc_chart(folder / "auroc.html", cells)
    plots.paired_chart(folder / "paired.html", comparisons)
    for outcome in dict.fromkeys(c.outcome for c in cells):
        usable = [c for c in cells if c.outcome == outcome and c.status == "ok" and "selected" in c.oof]
        like = [c for c in usable if c.population == "all_three" or c.modalities == MODALITIES]
        # When too few patients have all three modalities, show each set on its own patients instead -
        # and say so in the title, since those curves do not share a population.
        chosen, where = (like, "all-three patients") if like else (
            [c for c in usable if c.population == "has_set"], "each set's own patients")
        curves = []
        for c in chosen:
            a = c.metrics["selected"]["auroc"]
            curves.append((f"{set_name(c.modalities)}: AUROC {a.value:.2f} ({a.low:.2f}-{a.high:.2f}), "
                           f"n={c.n_patients}, {c.positives} cases", c.y, c.oof["selected"][0]))
        if like and "oracle" in like[0].oracle_scores:
            c = like[0]
            a = c.oracle["oracle"]["auroc"]
            curves.append((f"oracle (all information): AUROC {a.value:.2f} ({a.low:.2f}-{a.high:.2f}), "
                           f"n={c.n_patients}, {c.positives} cases", c.y, c.oracle_scores["oracle"]))
        if curves:
            title = f"{outcome} - selected model per modality set, {where}"
            plots.roc_chart(folder / f"roc_{outcome}.html", title, curves)
            plots.calibration_chart(folder / f"calibration_{outcome}.html", title, curves)
