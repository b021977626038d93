"""The evaluation table: every outcome x modality set x population, three model families each.

For one cell: the population is the patients who have every modality of the set (or, for the like-for-like
comparison, the patients who have all three); repeated grouped stratified CV gives out-of-fold probabilities
per repeat; metrics are averaged over repeats with patient-bootstrap intervals. After CV, the stack (which
holds the other two) is refit on the whole population and kept as the model of that outcome x set."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mmhealth.ml import estimators
from mmhealth.ml.ceiling import oracle_scores, stable_order
from mmhealth.ml.cv import grouped_splits
from mmhealth.ml.dataset import FeatureData
from mmhealth.ml.metrics import baselines, bootstrap_metrics
from mmhealth.ml.schema import MODALITIES, OUTCOMES, modality_sets, presence_mask, set_name

POPULATIONS = ("has_set", "all_three")  # each set's own patients; the patients with all three modalities


@dataclass(frozen=True)
class TrainConfig:
    outcomes: tuple[str, ...] = OUTCOMES
    modality_sets: tuple[tuple[str, ...], ...] = tuple(modality_sets())
    folds: int = 5
    repeats: int = 2
    seed: int = 0
    n_boot: int = 1000
    params: estimators.ModelParams = estimators.ModelParams()
    model_types: tuple[str, ...] = estimators.MODEL_TYPES
    compare: bool = True  # paired deltas of clinical+X over clinical alone (paired.py)


@dataclass
class CellResult:
    outcome: str
    modalities: tuple[str, ...]
    population: str
    n_patients: int
    n_rows: int
    positives: int
    status: str  # "ok" or why the cell was not evaluated
    excluded_prevalent: int = 0  # patients left out because they already had the condition
    excluded_unobserved: int = 0  # rows left out because the data ends inside their label window
    baselines: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)  # model type -> {auroc, auprc, brier: Estimate}
    notes: dict = field(default_factory=dict)  # model type -> caveat shown beside its numbers
    selected: dict = field(default_factory=dict)  # family -> in how many outer folds inner CV chose it
    oracle: dict = field(default_factory=dict)  # "oracle" / "oracle_set" -> {auroc, auprc, brier: Estimate}
    oracle_scores: dict = field(default_factory=dict)  # the same, per-row probabilities (not serialized)
    oof: dict = field(default_factory=dict)  # model type -> (R, n) out-of-fold probabilities (not serialized)
    y: np.ndarray | None = None
    seconds: float = 0.0

    def to_json(self) -> dict:
        return {
            "outcome": self.outcome,
            "modalities": set_name(self.modalities),
            "population": self.population,
            "n_patients": self.n_patients,
            "n_rows": self.n_rows,
            "positives": self.positives,
            "excluded_prevalent": self.excluded_prevalent,
            "excluded_unobserved": self.excluded_unobserved,
            "status": self.status,
            "baselines": {k: (round(v, 4) if np.isfinite(v) else None) for k, v in self.baselines.items()},
            "models": {m: {k: e.to_json() for k, e in ms.items()} for m, ms in self.metrics.items()},
            "selected_in_folds": self.selected,
            "oracle": {m: {k: e.to_json() for k, e in ms.items()} for m, ms in self.oracle.items()},
            "gap_auroc": self.gap(),
            "notes": self.notes,
            "seconds": round(self.seconds, 2),
        }

    def gap(self) -> float | None:
        """Selected model's AUROC minus the full-information oracle's on the same rows (<= 0 up to noise)."""
        if "selected" not in self.metrics or "oracle" not in self.oracle:
            return None
        return round(self.metrics["selected"]["auroc"].value - self.oracle["oracle"]["auroc"].value, 4)


@dataclass
class FittedModel:
    outcome: str
    modalities: tuple[str, ...]
    features: list
    model: object  # fitted StackingClassifier (holds the logistic and LightGBM members)
    n_patients: int
    importances: list[dict]
    selected: str = "stacked"  # the family inner CV on the whole population chose: what serve/predict use
    inner_auroc: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Population:
    rows: pd.DataFrame
    excluded_prevalent: int  # already had the condition at the index date
    excluded_unobserved: int  # the data ends inside the label window: a false label there means "not seen yet"
    groups: np.ndarray | None = None  # key-independent patient ids (ceiling.stable_order)


def population(data: FeatureData, outcome: str, modalities: tuple[str, ...], which: str) -> Population:
    """The rows a cell trains and tests on: patients with every modality of the set (or all three), a known label
    whose window the data fully covers, and not already having the condition at the index date (incidence, not
    prevalence, is what the label means for them)."""
    schema = data.schema
    wanted = (modalities if which == "has_set" else MODALITIES if which == "all_three"
              else tuple(which.removeprefix("has:").split("+")))
    rows = data.frame[presence_mask(data.frame, schema, wanted)]
    rows = rows[rows[schema.labels[outcome]].notna()]
    unobserved = 0
    if schema.observed_column is not None:
        seen = rows[schema.observed_column].fillna(False).astype(bool)
        unobserved = int((~seen).sum())
        rows = rows[seen]
    prior = schema.prevalent.get(outcome)
    prevalent = 0
    if prior is not None:
        flag = rows[prior].fillna(0).astype(bool)
        rows, prevalent = rows[~flag], int(flag.sum())
    rows, groups = stable_order(rows, schema.id_column)
    return Population(rows, prevalent, unobserved, groups)


def evaluate_cell(data: FeatureData, outcome: str, modalities: tuple[str, ...], which: str,
                  config: TrainConfig) -> CellResult:
    with single_threaded_blas():
        return _evaluate_cell(data, outcome, modalities, which, config)


def single_threaded_blas():
    """Thousands of small fits: BLAS/OpenMP thread pools only add contention (measured: LogisticRegression's
    L-BFGS wall time doubled on 2 busy cores). LightGBM's own threads are set by ModelParams.threads."""
    import lightgbm  # noqa: F401 - load the native pools first: the limit applies to loaded libraries
    import sklearn.linear_model  # noqa: F401
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def _evaluate_cell(data: FeatureData, outcome: str, modalities: tuple[str, ...], which: str,
                   config: TrainConfig) -> CellResult:
    start = time.perf_counter()
    schema = data.schema
    pop = population(data, outcome, modalities, which)
    rows = pop.rows
    label_col = schema.labels[outcome]
    y = rows[label_col].astype(bool).to_numpy()
    groups = pop.groups
    features = schema.features_of(modalities)
    cell = CellResult(outcome, modalities, which, n_patients=int(pd.unique(groups).size), n_rows=len(rows),
                      positives=int(y.sum()), status="ok", excluded_prevalent=pop.excluded_prevalent,
                      excluded_unobserved=pop.excluded_unobserved, baselines=baselines(y), y=y)
    if not features:
        cell.status = "no features for this modality set"
        return cell
    # Each test fold needs positives and negatives for AUROC to exist: require at least one per fold.
    minority = int(min(y.sum(), (~y).sum()))
    if minority < config.folds:
        cell.status = f"too few {'positives' if y.sum() <= (~y).sum() else 'negatives'} ({minority}) for " \
                      f"{config.folds}-fold CV"
        return cell
    X = estimators.model_input(rows, features)
    kinds = (*config.model_types, "selected")
    oof = {m: np.full((config.repeats, len(y)), np.nan) for m in kinds}
    for split in grouped_splits(y, groups, folds=config.folds, repeats=config.repeats, seed=config.seed):
        stack, chosen, _ = estimators.fit_and_select(features, config.seed + split.repeat,
                                                     config.params.sized_for(len(split.train)),
                                                     X.iloc[split.train], y[split.train])
        fitted = estimators.members(stack)
        cell.selected[chosen] = cell.selected.get(chosen, 0) + 1
        for name in config.model_types:
            oof[name][split.repeat, split.test] = fitted[name].predict_proba(X.iloc[split.test])[:, 1]
        oof["selected"][split.repeat, split.test] = fitted[chosen].predict_proba(X.iloc[split.test])[:, 1]
    cell.oof = oof
    for m in kinds:
        # A model that gives (nearly) everyone the same probability has learnt nothing: say so.
        if np.nanmax(oof[m].std(axis=1)) < 1e-9:
            cell.notes[m] = "constant predictions"
    cell.metrics = {m: bootstrap_metrics(y, oof[m], n_boot=config.n_boot, seed=config.seed) for m in kinds}
    # The same bootstrap resamples (same n and seed) score the oracle, so model and ceiling are paired.
    cell.oracle_scores = oracle_scores(data.oracle, rows[schema.id_column].astype(str).to_numpy(), outcome,
                                       set_name(modalities))
    cell.oracle = {k: bootstrap_metrics(y, v[None, :], n_boot=config.n_boot, seed=config.seed)
                   for k, v in cell.oracle_scores.items()}
    cell.seconds = time.perf_counter() - start
    return cell


def fit_final(data: FeatureData, outcome: str, modalities: tuple[str, ...], config: TrainConfig) -> FittedModel | None:
    schema = data.schema
    rows = population(data, outcome, modalities, "has_set").rows
    y = rows[schema.labels[outcome]].astype(bool).to_numpy()
    features = schema.features_of(modalities)
    if not features or min(y.sum(), (~y).sum()) < config.params.stack_folds:
        return None
    stack, chosen, scores = estimators.fit_and_select(features, config.seed, config.params.sized_for(len(y)),
                                                      estimators.model_input(rows, features), y)
    return FittedModel(outcome, modalities, features, stack, int(rows[schema.id_column].nunique()),
                       estimators.importances(stack), chosen, scores)


def unobserved_rows(data: FeatureData) -> int | None:
    """Rows whose label window the data does not reach (left out of every cell); None when the features do not say."""
    col = data.schema.observed_column
    if col is None:
        return None
    return int((~data.frame[col].fillna(False).astype(bool)).sum())


def plan(data: FeatureData, config: TrainConfig) -> list[tuple[str, tuple[str, ...], str]]:
    """The cells to evaluate. The all-three population of the all-three set is the same as its own
    population, so it is evaluated once."""
    cells = []
    for outcome in config.outcomes:
        if outcome not in data.schema.labels:
            continue
        for mods in config.modality_sets:
            cells.append((outcome, mods, "has_set"))
            if mods != MODALITIES:
                cells.append((outcome, mods, "all_three"))
    return cells
