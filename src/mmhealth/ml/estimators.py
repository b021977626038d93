"""The three model families, as plain scikit-learn / LightGBM objects.

Only library classes go into the pipelines (no mmhealth classes), so a pickled model loads anywhere
scikit-learn and LightGBM are installed - including SageMaker's scikit-learn serving container, which never
sees this package."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mmhealth.ml.inference import model_input  # noqa: F401 - one typing for training and serving
from mmhealth.ml.schema import Feature

MODEL_TYPES = ("logistic", "lightgbm", "stacked")


@dataclass(frozen=True)
class ModelParams:
    n_estimators: int = 100
    learning_rate: float = 0.05
    num_leaves: int = 15
    threads: int = 1
    stack_folds: int = 3
    logistic_c: float = 1.0
    min_child_samples: int = 20  # LightGBM's default; sized_for() lowers it for small training sets

    def sized_for(self, n_rows: int) -> "ModelParams":
        """LightGBM's default of 20 rows per leaf cannot split 40 rows (after CV) at all, and a model that
        cannot split predicts the prevalence - the majority-class row the reference system reported as a
        result. Scale the minimum leaf with the training set: 10% of it, between 5 and 20."""
        from dataclasses import replace

        return replace(self, min_child_samples=max(5, min(20, n_rows // 10)))


def _split(features: list[Feature]) -> tuple[list[str], list[str]]:
    return [f.name for f in features if f.kind == "numeric"], [f.name for f in features if f.kind != "numeric"]


def logistic(features: list[Feature], seed: int, params: ModelParams = ModelParams()):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric, categorical = _split(features)
    parts = []
    if numeric:
        # The missing-indicator lets the model learn from "not measured" instead of only the median.
        parts.append(("num", Pipeline([("impute", SimpleImputer(strategy="median", add_indicator=True,
                                                                 keep_empty_features=True)),
                                       ("scale", StandardScaler())]), numeric))
    if categorical:
        parts.append(("cat", Pipeline([("impute", SimpleImputer(strategy="constant", fill_value="missing")),
                                       ("onehot", OneHotEncoder(handle_unknown="ignore"))]), categorical))
    return Pipeline([
        ("prepare", ColumnTransformer(parts)),
        ("model", LogisticRegression(C=params.logistic_c, max_iter=2000, random_state=seed)),
    ])


def lightgbm(features: list[Feature], seed: int, params: ModelParams = ModelParams()):
    from lightgbm import LGBMClassifier
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    numeric, categorical = _split(features)
    parts = []
    if numeric:
        parts.append(("num", "passthrough", numeric))  # LightGBM handles missing values natively
    if categorical:
        parts.append(("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                                            encoded_missing_value=np.nan), categorical))
    return Pipeline([
        ("prepare", ColumnTransformer(parts, verbose_feature_names_out=False)),
        ("model", LGBMClassifier(
            n_estimators=params.n_estimators, learning_rate=params.learning_rate, num_leaves=params.num_leaves,
            min_child_samples=params.min_child_samples, subsample=0.8, subsample_freq=1, colsample_bytree=0.8,
            random_state=seed, n_jobs=params.threads, verbose=-1, deterministic=True,
        )),
    ])


def stacked(features: list[Feature], seed: int, params: ModelParams = ModelParams()):
    """Logistic regression on the out-of-fold probabilities of the two base models (scikit-learn's
    StackingClassifier: base models refit on all training rows, the meta-model on their inner-CV output)."""
    from sklearn.ensemble import StackingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    return StackingClassifier(
        estimators=[("logistic", logistic(features, seed, params)), ("lightgbm", lightgbm(features, seed, params))],
        final_estimator=LogisticRegression(max_iter=1000),
        cv=StratifiedKFold(params.stack_folds, shuffle=True, random_state=seed),
        stack_method="predict_proba",
    )


def members(stack) -> dict:
    """The fitted models of each family inside a fitted stack: one fit yields all three."""
    return {"logistic": stack.named_estimators_["logistic"], "lightgbm": stack.named_estimators_["lightgbm"],
            "stacked": stack}


def importances(stack) -> list[dict]:
    """Per-feature importances: |standardized coefficient| for logistic regression, total split gain for
    LightGBM, and the meta-model's weight on each base model for the stack."""
    rows = []
    lr = stack.named_estimators_["logistic"]
    names = lr.named_steps["prepare"].get_feature_names_out()
    for name, coef in zip(names, lr.named_steps["model"].coef_[0]):
        rows.append({"model": "logistic", "feature": str(name).split("__", 1)[-1], "importance": float(coef)})
    gbm = stack.named_estimators_["lightgbm"]
    names = gbm.named_steps["prepare"].get_feature_names_out()
    gains = gbm.named_steps["model"].booster_.feature_importance(importance_type="gain")
    for name, gain in zip(names, gains):
        rows.append({"model": "lightgbm", "feature": str(name), "importance": float(gain)})
    for name, coef in zip(("logistic", "lightgbm"), stack.final_estimator_.coef_[0]):
        rows.append({"model": "stacked", "feature": f"<{name} probability>", "importance": float(coef)})
    return rows


SELECTABLE = ("logistic", "lightgbm", "stacked")  # in order of preference when inner scores tie (simplest first)


def fit_and_select(features: list[Feature], seed: int, params: ModelParams, X, y) -> tuple[object, str, dict]:
    """Fit the stack (which holds the other two) and choose a family by inner cross-validation on these rows
    only - nested inside whatever outer split produced them, so the choice never sees the rows it is scored on.

    The inner folds are the stack's own (same StratifiedKFold and seed), so the members' inner out-of-fold
    probabilities are the ones the stack's meta-model learns from; the stack's own inner score cross-validates
    that meta-model on them. Returns (fitted stack, chosen family, inner AUROC per family)."""
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    stack = stacked(features, seed, params).fit(X, y)
    cv = StratifiedKFold(params.stack_folds, shuffle=True, random_state=seed)
    inner = np.column_stack([
        cross_val_predict(clone(dict(stack.estimators)[m]), X, y, cv=cv, method="predict_proba")[:, 1]
        for m in ("logistic", "lightgbm")])
    meta = cross_val_predict(LogisticRegression(max_iter=1000), inner, y,
                             cv=StratifiedKFold(params.stack_folds, shuffle=True, random_state=seed + 1),
                             method="predict_proba")[:, 1]
    scores = {"logistic": float(roc_auc_score(y, inner[:, 0])), "lightgbm": float(roc_auc_score(y, inner[:, 1])),
              "stacked": float(roc_auc_score(y, meta))}
    best = max(SELECTABLE, key=lambda m: (round(scores[m], 6), -SELECTABLE.index(m)))
    return stack, best, scores
