"""A training run: evaluate the table, refit the models, and write the run folder.

RUN/
  results.md, results.json      the table (results.json also holds config and provenance)
  plots/roc_<outcome>.png        ROC of the stacked model per modality set, patients with all three modalities
                                 (each set on its own patients when no all-three cell could be evaluated)
  plots/calibration_<outcome>.png  its calibration (deciles of predicted probability)
  importances.csv                per outcome x modality set x model family
  models/<outcome>/<set>.joblib  the stack refit on the set's whole population (holds LR and LightGBM)
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
                            "features": [f.name for f in fitted.features], "n_patients": fitted.n_patients})
        for row in fitted.importances:
            importance_rows.append({"outcome": outcome, "modalities": set_name(mods), **row})

    _write_plots(cells, config, out / "plots")
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
    }
    (out / "schema.json").write_text(json.dumps(data.schema.to_json(), indent=2))
    (out / "manifest.json").write_text(json.dumps({**run, "models": models_meta}, indent=2, default=str))
    (out / "results.json").write_text(json.dumps({**run, "results": [c.to_json() for c in cells]}, indent=2,
                                                 default=str))
    (out / "results.md").write_text(results_markdown(cells, run, data.schema))
    return {"cells": cells, "models": models_meta, "run": run}


def _write_plots(cells: list[CellResult], config: TrainConfig, folder: Path) -> None:
    """One ROC and one calibration chart per outcome: the stacked model of each modality set, first CV
    repeat's out-of-fold probabilities, on the patients with all three modalities (like for like)."""
    folder.mkdir(parents=True, exist_ok=True)
    model = "stacked" if "stacked" in config.model_types else config.model_types[-1]
    for outcome in dict.fromkeys(c.outcome for c in cells):
        usable = [c for c in cells if c.outcome == outcome and c.status == "ok" and model in c.oof]
        like = [c for c in usable if c.population == "all_three" or c.modalities == MODALITIES]
        # When too few patients have all three modalities, show each set on its own patients instead -
        # and say so in the title, since those curves do not share a population.
        chosen, where = (like, "all-three patients") if like else (
            [c for c in usable if c.population == "has_set"], "each set's own patients")
        curves = [(f"{set_name(c.modalities)} {c.metrics[model]['auroc'].value:.2f}", c.y, c.oof[model][0])
                  for c in chosen]
        if curves:
            title = f"{outcome} - {model}, {where}"
            plots.roc_chart(folder / f"roc_{outcome}.png", title, curves)
            plots.calibration_chart(folder / f"calibration_{outcome}.png", title, curves)
