"""The run's charts, drawn with plotly (a locked dependency) as self-contained HTML: the pinned stack has no static
image backend (kaleido is not in the lock), and an HTML chart keeps its numbers on hover. Every panel names its n
and number of cases and shows 95% intervals. plotly.js is written once beside the charts (no network to view).

- auroc.html: per outcome, AUROC of the selected model, the full-information oracle and the set's oracle for every
  evaluated cell, with patient-bootstrap intervals;
- paired.html: per outcome, delta AUROC of clinical+X over clinical (models and oracle, paired intervals);
- roc_<outcome>.html / calibration_<outcome>.html: the selected model of each set on one population, with the
  oracle's curve; calibration by deciles of predicted risk with Wilson intervals on the observed frequency."""

from __future__ import annotations

from pathlib import Path

import numpy as np

PLOTLYJS = "directory"  # plotly.min.js next to the HTML files, written once


def _write(fig, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.write_html(path, include_plotlyjs=PLOTLYJS, full_html=True)


def _label(cell) -> str:
    pop = "has the set" if cell.population == "has_set" else "has all three"
    return f"{'+'.join(cell.modalities)} ({pop}) n={cell.n_patients}, {cell.positives} cases"


def _bar(est) -> dict:
    return {"type": "data", "symmetric": False, "array": [est.high - est.value], "arrayminus": [est.value - est.low]}


def auroc_chart(path: Path, cells: list) -> None:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    outcomes = list(dict.fromkeys(c.outcome for c in cells))
    fig = make_subplots(rows=len(outcomes), cols=1, subplot_titles=outcomes, vertical_spacing=0.06)
    styles = {"selected model": ("circle", "#1f77b4"), "oracle (all information)": ("diamond", "#d62728"),
              "oracle (this set)": ("square", "#2ca02c")}
    shown = set()
    for row, outcome in enumerate(outcomes, start=1):
        ok = [c for c in cells if c.outcome == outcome and c.status == "ok"]
        for c in ok:
            series = {"selected model": c.metrics.get("selected", {}).get("auroc"),
                      "oracle (all information)": c.oracle.get("oracle", {}).get("auroc"),
                      "oracle (this set)": c.oracle.get("oracle_set", {}).get("auroc")}
            for name, est in series.items():
                if est is None or not np.isfinite(est.value):
                    continue
                symbol, color = styles[name]
                fig.add_trace(go.Scatter(x=[est.value], y=[_label(c)], mode="markers", name=name,
                                         legendgroup=name, showlegend=name not in shown,
                                         marker={"symbol": symbol, "color": color, "size": 9},
                                         error_x={**_bar(est), "color": color}), row=row, col=1)
                shown.add(name)
        if not ok:
            fig.add_annotation(text="no cell evaluated (too few cases)", row=row, col=1, showarrow=False,
                               xref="x domain", yref="y domain", x=0.5, y=0.5)
        fig.add_vline(x=0.5, line_dash="dot", line_color="grey", row=row, col=1)
        fig.update_xaxes(range=[0.3, 1.0], title_text="AUROC (95% CI)", row=row, col=1)
    fig.update_layout(height=260 * len(outcomes) + 200, width=1000,
                      title="AUROC per outcome x modality set: selected model vs the generator's true probability")
    _write(fig, path)


def paired_chart(path: Path, comparisons: list) -> None:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    outcomes = list(dict.fromkeys(c.outcome for c in comparisons))
    if not outcomes:
        return
    fig = make_subplots(rows=len(outcomes), cols=1, subplot_titles=outcomes, vertical_spacing=0.08)
    shown = set()
    for row, outcome in enumerate(outcomes, start=1):
        for c in (c for c in comparisons if c.outcome == outcome):
            label = f"{'+'.join(c.modalities)} vs clinical, n={c.n_patients}, {c.positives} cases"
            for name, est, color in (("models (selected)", c.model, "#1f77b4"), ("oracle", c.oracle, "#d62728")):
                if est is None:
                    continue
                fig.add_trace(go.Scatter(x=[est.value], y=[label], mode="markers", name=name, legendgroup=name,
                                         showlegend=name not in shown, marker={"color": color, "size": 9},
                                         error_x={**_bar(est), "color": color}), row=row, col=1)
                shown.add(name)
        fig.add_vline(x=0.0, line_dash="dot", line_color="grey", row=row, col=1)
        fig.update_xaxes(title_text="delta AUROC over clinical alone (paired 95% CI)", row=row, col=1)
    fig.update_layout(height=220 * len(outcomes) + 200, width=1000,
                      title="Does adding a modality to clinical features help? Same patients, same folds")
    _write(fig, path)


def roc_chart(path: Path, title: str, curves: list[tuple[str, np.ndarray, np.ndarray]]) -> None:
    """curves: (label with AUROC, CI, n and cases; y; score)."""
    import plotly.graph_objects as go
    from sklearn.metrics import roc_curve

    fig = go.Figure()
    for label, y, score in curves:
        fpr, tpr, _ = roc_curve(y, score)
        dash = "dash" if label.startswith("oracle") else "solid"
        fig.add_trace(go.Scatter(x=fpr, y=tpr, mode="lines", name=label, line={"dash": dash}))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance", line={"dash": "dot", "color": "grey"}))
    fig.update_layout(title=title, xaxis_title="false positive rate", yaxis_title="true positive rate",
                      width=900, height=600, legend={"font": {"size": 10}})
    _write(fig, path)


def calibration_points(y: np.ndarray, prob: np.ndarray, bins: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Mean predicted vs observed frequency in quantile bins of the predicted probability."""
    order = np.argsort(prob, kind="mergesort")
    chunks = [c for c in np.array_split(order, bins) if len(c)]
    return (np.array([prob[c].mean() for c in chunks]), np.array([y[c].mean() for c in chunks]))


def wilson(k: np.ndarray, n: np.ndarray, z: float = 1.96) -> tuple[np.ndarray, np.ndarray]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def calibration_chart(path: Path, title: str, curves: list[tuple[str, np.ndarray, np.ndarray]]) -> None:
    import plotly.graph_objects as go

    fig = go.Figure()
    top = 0.01
    for label, y, prob in curves:
        y, prob = np.asarray(y, float), np.asarray(prob, float)
        order = np.argsort(prob, kind="mergesort")
        chunks = [c for c in np.array_split(order, 10) if len(c)]
        mx = np.array([prob[c].mean() for c in chunks])
        k = np.array([y[c].sum() for c in chunks])
        n = np.array([len(c) for c in chunks], float)
        lo, hi = wilson(k, n)
        my = k / n
        top = max(top, float(np.max(np.r_[mx, hi])))
        fig.add_trace(go.Scatter(x=mx, y=my, mode="lines+markers", name=label,
                                 error_y={"type": "data", "symmetric": False, "array": hi - my,
                                          "arrayminus": my - lo}))
    fig.add_trace(go.Scatter(x=[0, top], y=[0, top], mode="lines", name="perfect calibration",
                             line={"dash": "dot", "color": "grey"}))
    fig.update_layout(title=title, xaxis_title="mean predicted probability (deciles)",
                      yaxis_title="observed frequency (Wilson 95% CI)", width=900, height=600,
                      legend={"font": {"size": 10}})
    _write(fig, path)
