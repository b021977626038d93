"""results.md: the table a reader checks first, with the baselines beside every number."""

from __future__ import annotations

from mmhealth.ml.train import CellResult

POPULATION_LABEL = {"has_set": "has the set", "all_three": "has all three"}
MODEL_LABEL = {"logistic": "LR", "lightgbm": "LGBM", "stacked": "Stack"}


def _ci(est) -> str:
    return f"{est.value:.3f} ({est.low:.3f}-{est.high:.3f})"


def results_markdown(cells: list[CellResult], run: dict, schema=None) -> str:
    prov = run["provenance"]
    cfg = run["config"]
    lines = [
        "# Baseline models: cardiovascular and neurological outcomes by modality set",
        "",
        f"Data: feature group `{prov.get('feature_group')}` version `{prov.get('version')}` from {prov['source']} "
        f"(`{prov['location']}`), {prov['rows']} rows, data hash `{prov['data_hash'][:16]}`"
        + (f", publisher hash `{prov['store_hash'][:16]}`" if prov.get("store_hash") else "") + ".",
        f"Evaluation: {cfg['repeats']} x repeated stratified {cfg['folds']}-fold CV grouped by patient "
        f"(seed {cfg['seed']}); out-of-fold metrics averaged over repeats; 95% intervals from "
        f"{cfg['n_boot']} patient bootstrap resamples. LR = logistic regression, LGBM = LightGBM "
        f"({cfg['params']['n_estimators']} trees), Stack = logistic regression on both models' out-of-fold "
        "probabilities.",
        "Population: *has the set* = patients with every modality of the set; *has all three* = the same models "
        "trained and tested only on patients with all three modalities, so rows of one outcome compare like for "
        "like. Baselines: a constant score has AUROC 0.5 and AUPRC = prevalence; the Brier score of always "
        "predicting the prevalence is p(1-p).",
        f"As-of check (no feature dated after the index date): {prov.get('extra', {}).get('as_of_check', 'n/a')}.",
        "Patients who already had the condition at the index date (the mart's `prior_<outcome>` flag) are "
        "left out of that outcome's rows: the label means a new diagnosis within the horizon.",
        _observed_line(run, schema),
        "",
    ]
    if schema is not None:
        lines += ["Features by modality (the mapping and where it came from are in schema.json):", ""]
        for modality in ("clinical", "genomic", "imaging"):
            names = [f.name for f in schema.features if f.modality == modality]
            lines.append(f"- {modality} ({len(names)}): " + (", ".join(f"`{n}`" for n in names) or "none"))
        if schema.ignored:
            lines.append("- not used: " + ", ".join(f"`{c}` ({why})" for c, why in schema.ignored.items()))
        lines.append("")
    lines += ["## Summary", "", summary_markdown(cells), ""]
    for outcome in dict.fromkeys(c.outcome for c in cells):
        lines += [f"## {outcome}", "",
                  "| Modalities | Population | n | Positives | Prevalence | Prevalent excluded | Window not observed | "
                  "Model | AUROC (95% CI) | AUPRC (95% CI) | Brier (95% CI) | Brier of prevalence |",
                  "|---|---|---:|---:|---:|---:|---:|---|---|---|---|---:|"]
        for cell in (c for c in cells if c.outcome == outcome):
            head = (f"| {'+'.join(cell.modalities)} | {POPULATION_LABEL[cell.population]} | {cell.n_patients} | "
                    f"{cell.positives} | {cell.baselines.get('prevalence', float('nan')):.3f} | "
                    f"{cell.excluded_prevalent} | {cell.excluded_unobserved} |")
            if cell.status != "ok":
                lines.append(f"{head} - | not evaluated: {cell.status} | | | |")
                continue
            for model, m in cell.metrics.items():
                note = f" ({cell.notes[model]})" if model in cell.notes else ""
                lines.append(f"{head} {MODEL_LABEL[model]}{note} | {_ci(m['auroc'])} | {_ci(m['auprc'])} | "
                             f"{_ci(m['brier'])} | {cell.baselines['brier']:.3f} |")
        lines.append("")
    skipped = [c for c in cells if c.status != "ok"]
    if skipped:
        lines += [f"{len(skipped)} cell(s) were not evaluated; the reason is in the table.", ""]
    return "\n".join(lines)


def _observed_line(run: dict, schema) -> str:
    unobserved = run.get("unobserved_rows")
    if schema is None or schema.observed_column is None:
        return ("Label windows: the features have no `label_window_observed` column, so every label is taken as "
                "fully observed - republish features_cardiovascular from the current dbt project to have it checked.")
    return (f"Label windows: {unobserved} of {run['provenance']['rows']} rows have a label window the data does not "
            "reach (`label_window_observed` false: a false label there means \"not seen yet\"); they are left out of "
            "every row below (docs/ml.md, labels and the data end).")


def summary_markdown(cells: list[CellResult]) -> str:
    """One line per outcome x modality set x population: the AUROC of all three model families (no
    picking the best after the fact) and the stack's AUPRC beside the prevalence. The per-outcome tables have
    every metric of every model."""
    lines = [
        "| Outcome | Modalities | Population | n | Cases | AUROC LR | AUROC LGBM | AUROC Stack | "
        "AUPRC Stack | Prevalence |",
        "|---|---|---|---:|---:|---|---|---|---|---:|",
    ]
    for cell in cells:
        head = (f"| {cell.outcome} | {'+'.join(cell.modalities)} | {POPULATION_LABEL[cell.population]} | "
                f"{cell.n_patients} | {cell.positives} | ")
        prevalence = f"{cell.baselines.get('prevalence', float('nan')):.3f}"
        if cell.status != "ok":
            lines.append(head + f"not evaluated: {cell.status} | | | | {prevalence} |")
            continue
        auroc = [(_ci(cell.metrics[m]["auroc"]) + (f" ({cell.notes[m]})" if m in cell.notes else "")
                  if m in cell.metrics else "-") for m in ("logistic", "lightgbm", "stacked")]
        auprc = _ci(cell.metrics["stacked"]["auprc"]) if "stacked" in cell.metrics else "-"
        lines.append(head + " | ".join(auroc) + f" | {auprc} | {prevalence} |")
    return "\n".join(lines) + "\n"
