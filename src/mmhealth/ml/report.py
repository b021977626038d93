"""results.md: the table a reader checks first, with the baselines beside every number."""

from __future__ import annotations

from mmhealth.ml.train import CellResult

POPULATION_LABEL = {"has_set": "has the set", "all_three": "has all three"}
MODEL_LABEL = {"logistic": "LR", "lightgbm": "LGBM", "stacked": "Stack", "selected": "Selected",
               "oracle": "Oracle (all information)", "oracle_set": "Oracle (this set)"}


def _ci(est) -> str:
    return f"{est.value:.3f} ({est.low:.3f}-{est.high:.3f})"


def results_markdown(cells: list[CellResult], run: dict, schema=None, comparisons=None) -> str:
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
        "probabilities. Selected = in each outer fold, the family inner 3-fold CV on that fold's training rows "
        "chose (nested model selection; the final model of each outcome x set is chosen the same way on all its "
        "rows, and is what serve/predict use). Folds and bootstrap resamples follow a key-independent row order.",
        "Oracle: " + (f"the generator's true probabilities (`{run['oracle']}`, evaluation only): *all information* "
                      "is the ceiling no model of these features can beat beyond noise; *this set* approximates the "
                      "best a model seeing only the set's variables could do (docs/ml.md, the ceiling). "
                      "Gap = Selected - Oracle (all information)." if run.get("oracle") else
                      "none (pass `--oracle` with a generated data set's evaluation/oracle.csv to score the ceiling)."),
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
    if comparisons:
        lines += ["## Paired comparisons: clinical+X over clinical alone", "",
                  "Same patients (those with the richer set), same folds; delta AUROC of the selected models and of "
                  "the set oracles, paired patient-bootstrap 95% intervals.", "", paired_markdown(comparisons), ""]
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
            for model, m in [*cell.metrics.items(), *cell.oracle.items()]:
                note = f" ({cell.notes[model]})" if model in cell.notes else ""
                if model == "selected" and cell.selected:
                    note += " (chosen: " + ", ".join(f"{MODEL_LABEL[k]} x{v}" for k, v in cell.selected.items()) + ")"
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
    """One line per outcome x modality set x population: the AUROC of all three model families and of the
    nested-selected one (no picking the best after the fact), the oracles beside them and the gap to the ceiling.
    The per-outcome tables have every metric of every model."""
    lines = [
        "| Outcome | Modalities | Population | n | Cases | AUROC LR | AUROC LGBM | AUROC Stack | AUROC Selected | "
        "AUROC Oracle (set) | AUROC Oracle (all) | Gap | AUPRC Selected | AUPRC Oracle (all) | Prevalence |",
        "|---|---|---|---:|---:|---|---|---|---|---|---|---:|---|---|---:|",
    ]
    for cell in cells:
        head = (f"| {cell.outcome} | {'+'.join(cell.modalities)} | {POPULATION_LABEL[cell.population]} | "
                f"{cell.n_patients} | {cell.positives} | ")
        prevalence = f"{cell.baselines.get('prevalence', float('nan')):.3f}"
        if cell.status != "ok":
            lines.append(head + f"not evaluated: {cell.status} | | | | | | | | | {prevalence} |")
            continue
        auroc = [(_ci(cell.metrics[m]["auroc"]) + (f" ({cell.notes[m]})" if m in cell.notes else "")
                  if m in cell.metrics else "-") for m in ("logistic", "lightgbm", "stacked", "selected")]
        oracle = [_ci(cell.oracle[k]["auroc"]) if k in cell.oracle else "-" for k in ("oracle_set", "oracle")]
        gap = cell.gap()
        auprc = [_ci(cell.metrics["selected"]["auprc"]) if "selected" in cell.metrics else "-",
                 _ci(cell.oracle["oracle"]["auprc"]) if "oracle" in cell.oracle else "-"]
        lines.append(head + " | ".join(auroc + oracle) + f" | {'-' if gap is None else f'{gap:+.3f}'} | "
                     + " | ".join(auprc) + f" | {prevalence} |")
    return "\n".join(lines) + "\n"


def paired_markdown(comparisons) -> str:
    from mmhealth.ml.paired import verdict

    lines = ["| Outcome | Richer set vs clinical | n | Cases | AUROC clinical | AUROC richer | Delta (models) | "
             "Delta (oracle) | Verdict |", "|---|---|---:|---:|---|---|---|---|---|"]
    for c in comparisons:
        f = (lambda e: "-" if e is None else f"{e.value:+.3f} ({e.low:+.3f} to {e.high:+.3f})")
        g = (lambda x: "-" if x is None else f"{x:.3f}")
        lines.append(f"| {c.outcome} | {'+'.join(c.modalities)} | {c.n_patients} | {c.positives} | "
                     f"{g(c.clinical_auroc)} | {g(c.richer_auroc)} | {f(c.model)} | {f(c.oracle)} | {verdict(c)} |")
    return "\n".join(lines) + "\n"
