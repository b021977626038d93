"""Repeated stratified K-fold grouped by patient: a patient's rows are always on one side of a split."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Split:
    repeat: int
    fold: int
    train: np.ndarray
    test: np.ndarray


def grouped_splits(y: np.ndarray, groups: np.ndarray, *, folds: int = 5, repeats: int = 1,
                   seed: int = 0) -> list[Split]:
    """StratifiedGroupKFold, once per repeat with a different shuffle seed."""
    from sklearn.model_selection import StratifiedGroupKFold

    out = []
    for r in range(repeats):
        splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed + r)
        with warnings.catch_warnings():
            # "The least populated class has only k members": we check class counts ourselves before.
            warnings.simplefilter("ignore", UserWarning)
            for k, (train, test) in enumerate(splitter.split(np.zeros(len(y)), y, groups)):
                if np.intersect1d(groups[train], groups[test]).size:  # cannot happen; refuse if it ever does
                    raise AssertionError("a patient is on both sides of a split")
                out.append(Split(r, k, train, test))
    return out
