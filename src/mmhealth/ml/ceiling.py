"""The ceiling: the generator's true probabilities (`evaluation/oracle.csv`, synth/oracle.py), joined to the
feature rows for evaluation only - never a feature, never in the lake.

The file names patients by FHIR id (`patient_id`); the features by `patient_key`, a keyed hash of it. The join
hashes the ids with the deployment's pseudonym key, in memory (mmhealth.pseudonym): the key is read, never
written. A file that already holds `patient_key` (a synthetic feature table's own oracle) is joined as is."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mmhealth.errors import MMHealthError


def load_oracle(path: str | Path) -> pd.DataFrame:
    """The oracle table indexed by patient_key: p_<outcome> (full information) and p_<outcome>__<set>."""
    path = Path(path)
    if path.is_dir():
        path = path / "evaluation" / "oracle.csv"
    if not path.is_file():
        raise MMHealthError(f"{path}: no oracle file - pass the evaluation/oracle.csv that `mmhealth generate` "
                            "wrote (or the generated data folder)")
    frame = pd.read_csv(path)
    if "patient_key" not in frame.columns:
        if "patient_id" not in frame.columns:
            raise MMHealthError(f"{path}: neither patient_id nor patient_key column - not an oracle file")
        from mmhealth.pseudonym import patient_key, read_key

        key = read_key()
        frame["patient_key"] = [patient_key(key, str(i)) for i in frame["patient_id"]]
        frame = frame.drop(columns=["patient_id"])
    keep = [c for c in frame.columns if c.startswith("p_")]
    return frame.drop_duplicates("patient_key").set_index("patient_key")[keep].astype(float)


def oracle_scores(oracle: pd.DataFrame | None, keys: np.ndarray, outcome: str, set_name: str) -> dict[str, np.ndarray]:
    """{"oracle": full-information probabilities, "oracle_set": the set's own} for these rows; a score is left
    out when the file lacks its column or any row (then it would describe another population)."""
    out: dict[str, np.ndarray] = {}
    if oracle is None:
        return out
    for name, col in (("oracle", f"p_{outcome}"), ("oracle_set", f"p_{outcome}__{set_name}")):
        if col not in oracle.columns:
            continue
        values = oracle[col].reindex(keys).to_numpy(dtype=float)
        if len(values) and np.isfinite(values).all():
            out[name] = values
    return out


def stable_order(rows: pd.DataFrame, id_column: str) -> tuple[pd.DataFrame, np.ndarray]:
    """The rows in an order, and patient group ids, that do not depend on the pseudonym key or the order rows were
    read in: sorted by a hash of each row's content without its key, each patient named by its first row's hash.
    CV folds and bootstrap resamples follow this order, so a run reproduces its numbers under any key."""
    content = rows.drop(columns=[id_column])
    hashes = pd.util.hash_pandas_object(content, index=False).to_numpy()
    order = np.lexsort((np.arange(len(rows)), hashes))
    rows = rows.iloc[order]
    hashes = hashes[order]
    first = pd.Series(hashes, index=rows[id_column].astype(str).to_numpy()).groupby(level=0).transform("min")
    return rows, first.to_numpy()


def above_ceiling(cell) -> list[str]:
    """Model families whose AUROC lies above the full-information oracle's 95% interval on the same rows: a model
    cannot know more than the generator did, so this means a leak (or a broken oracle)."""
    if "oracle" not in getattr(cell, "oracle", {}):
        return []
    high = cell.oracle["oracle"]["auroc"].high
    return [m for m, est in cell.metrics.items() if est["auroc"].value > high]
