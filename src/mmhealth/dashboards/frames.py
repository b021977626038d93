"""The rows each visual draws, shaped in pandas exactly as the layout says (pure functions, no I/O).

`local.py` reads the warehouse and writes the pages; this module turns what it read into one small table per
visual: filters, the aggregation QuickSight would apply (sum, average, count; dates by period), the order of
rows or categories, and the short labels of the patient selector.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mmhealth.dashboards.layout import Field, PatientLabel, Sort, Visual

TABLE_ROWS_PER_PATIENT = 100  # a patient's table visuals show the latest rows only; charts use all rows
ORDER_KEY = "_order"  # in a visual's embedded columns: the x and colour order of a sorted chart

_PERIOD_FORMAT = {"YEAR": "%Y", "MONTH": "%Y-%m", "DAY": "%Y-%m-%d"}
_PANDAS_AGG = {"MAX": "max", "MIN": "min", "SUM": "sum", "AVERAGE": "mean", "COUNT": "count",
               "DISTINCT_COUNT": "nunique"}


def _period(series, granularity: str):
    import pandas as pd

    return pd.to_datetime(series, errors="coerce").dt.strftime(_PERIOD_FORMAT[granularity])


def _aggregate(frame, keys: list[str], values: tuple[Field, ...], flags: list[str], extra: dict[str, str]):
    """Group and aggregate like QuickSight would. A suppressible SUM with any NULL in its group stays NULL:
    a suppressed count must not turn into a smaller, wrong number. `flags` are booleans kept as any();
    `extra` maps further columns (sort keys) to their aggregation."""
    import pandas as pd

    if frame.empty:
        return pd.DataFrame(columns=[*keys, *[v.column for v in values], *flags, *extra])
    grouped = frame.groupby(keys, dropna=False, sort=True)
    out = {}
    for v in values:
        col = grouped[v.column]
        if v.aggregation == "COUNT":
            out[v.column] = col.count()
        elif v.aggregation == "AVERAGE":
            out[v.column] = col.mean()
        elif v.aggregation == "DISTINCT_COUNT":
            out[v.column] = col.nunique()
        else:  # SUM
            summed = col.sum(min_count=1)
            if v.suppression:
                summed[col.apply(lambda s: s.isna().any())] = float("nan")
            out[v.column] = summed
    for flag in flags:
        out[flag] = grouped[flag].agg(lambda s: bool(s.fillna(False).astype(bool).any()))
    for column, aggregation in extra.items():
        if column not in out:
            out[column] = grouped[column].agg(_PANDAS_AGG.get(aggregation, "max"))
    return pd.DataFrame(out).reset_index()


def _ranked(frame, key: str, sorts: tuple[Sort, ...]) -> list:
    """The distinct values of `key`, ordered by the sort keys (each aggregated over the value's rows); NULL
    sort values last, ties by the value itself, so the order never depends on row order."""
    import pandas as pd

    if frame.empty:
        return []
    ranks = pd.DataFrame({key: frame[key].drop_duplicates()}).set_index(key)
    by, ascending = [], []
    for i, s in enumerate(sorts):
        ranks[f"_s{i}"] = frame.groupby(key, dropna=False)[s.column].agg(_PANDAS_AGG.get(s.aggregation, "max"))
        by.append(f"_s{i}")
        ascending.append(s.direction == "ASC")
    ranks = ranks.reset_index()
    ranks = ranks.sort_values([*by, key], ascending=[*ascending, True], na_position="last", kind="stable")
    return ranks[key].tolist()


def _sort_table(table, sorts: tuple[Sort, ...]):
    if not sorts:
        return table
    return table.sort_values([s.column for s in sorts], ascending=[s.direction == "ASC" for s in sorts],
                             na_position="last", kind="stable")


def visual_frame(visual: Visual, frame, patient_column: str | None = None):
    """The rows a visual draws. `frame` holds the columns the visual reads (already limited to the listed
    patients); its filters are applied here. Tables keep their rows in the visual's sort order; charts are
    aggregated per (x, colour) and ordered by the x categories' and colour groups' sort keys."""
    for column, values in visual.filters:
        frame = frame[frame[column].isin(values)]
    for column, values in visual.exclude:
        frame = frame[~frame[column].isin(values)]
    keys = [patient_column] if patient_column else []
    flag = [visual.suppression_flag] if visual.suppression_flag else []
    if visual.kind == "table":
        cols = keys + [c.column for c in visual.columns if c.column not in keys] + flag
        table = _sort_table(frame, visual.sort)[cols].copy()
        if patient_column:
            table = table.groupby(patient_column, sort=False).head(TABLE_ROWS_PER_PATIENT)
        for c in visual.columns:
            if c.role == "date":  # a date reads as a date, not as midnight of it
                table[c.column] = _period(table[c.column], "DAY")
            elif c.null_label:
                table[c.column] = table[c.column].astype("string").fillna(c.null_label)
        return table
    frame = frame.copy()
    for f in (visual.x, visual.color):
        if f is None:
            continue
        if f.role == "date":
            frame[f.column] = _period(frame[f.column], f.granularity)
        frame[f.column] = frame[f.column].astype("string").fillna(f.null_label or "unknown")
        keys.append(f.column)
    flags = [f for f in (visual.suppression_flag, visual.partial_flag) if f]
    extra = {s.column: s.aggregation for s in (*visual.sort, *visual.color_sort)}
    out = _aggregate(frame, keys, visual.values, flags, extra)
    if (visual.sort or visual.color_sort) and not out.empty:
        xs = _ranked(out, visual.x.column, visual.sort) if visual.sort else list(dict.fromkeys(out[visual.x.column]))
        x_rank = {v: i for i, v in enumerate(xs)}
        c_rank = ({v: i for i, v in enumerate(_ranked(out, visual.color.column, visual.color_sort))}
                  if visual.color and visual.color_sort else {})
        position = out[visual.x.column].map(x_rank).fillna(-1) * (len(c_rank) + 1)
        if c_rank:
            position = position + out[visual.color.column].map(c_rank).fillna(-1)
        out = out.assign(_pos=position.to_numpy()).sort_values("_pos", kind="stable").drop(columns="_pos")
    return out.reset_index(drop=True)


def chart_order(visual: Visual, frame) -> dict[str, list] | None:
    """The x categories and colour groups of a sorted chart, in order (None when the visual has no sort).
    Plotly orders categories by first appearance across traces, so the page is told the order outright."""
    if visual.kind == "table" or not (visual.sort or visual.color_sort) or visual.x is None:
        return None
    order: dict[str, list] = {"x": list(dict.fromkeys(frame[visual.x.column].tolist()))}
    if visual.color is not None:
        order["color"] = (_ranked(frame, visual.color.column, visual.color_sort) if visual.color_sort
                          else list(dict.fromkeys(frame[visual.color.column].tolist())))
    return order


def _jsonable(value):
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalar
        return _jsonable(value.item())
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def columnar(frame) -> dict[str, list]:
    return {c: [_jsonable(v) for v in frame[c].tolist()] for c in frame.columns}


def visual_columns(visual: Visual, frame) -> dict:
    """What the page embeds for one visual: its columns, plus the category order of a sorted chart."""
    data = columnar(frame)
    if (order := chart_order(visual, frame)) is not None:
        data[ORDER_KEY] = [[_jsonable(v) for v in order.get("x", [])], [_jsonable(v) for v in order.get("color", [])]]
    return data


# ---- the patient selector -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PatientEntry:
    key: str
    label: str
    modalities: tuple[str, ...]  # the modality names the patient has data of, in the layout's order


def _age_text(age, cap: int) -> str:
    if age is None or (isinstance(age, float) and math.isnan(age)):
        return "age ?"
    age = int(age)
    return f"{cap}+" if age >= cap else str(age)


def _prefixes(keys: list[str], length: int) -> dict[str, str]:
    """Each key's prefix, one length for all: the shortest (from `length` up) that tells the listed keys apart."""
    keys = list(dict.fromkeys(keys))
    longest = max((len(k) for k in keys), default=0)
    n = length
    while n < longest and len({k[:n] for k in keys}) < len(keys):
        n += 1
    return {k: k[:n] for k in keys}


def patient_entries(rows: list[tuple], spec: PatientLabel) -> list[PatientEntry]:
    """Selector entries from (key, sex, age, *modality flags) rows, in the rows' order. The label is short and
    searchable and holds nothing identifying beyond the pseudonymous key's prefix: no name, no exact date."""
    prefixes = _prefixes([r[0] for r in rows], spec.prefix_length)
    entries = []
    for key, sex, age, *flags in rows:
        mods = tuple(name for (_, name), flag in zip(spec.modalities, flags) if bool(flag))
        sex_text = str(sex) if sex not in (None, "") else "sex ?"
        label = f"{prefixes[key]} · {sex_text}, {_age_text(age, spec.age_cap)} · {'+'.join(mods) or 'no data'}"
        entries.append(PatientEntry(key, label, mods))
    return entries


def default_patient(entries: list[PatientEntry], spec: PatientLabel) -> str | None:
    """The patient the page opens on: the first with every modality, else the first listed."""
    everything = len(spec.modalities)
    return next((e.key for e in entries if len(e.modalities) == everything), entries[0].key if entries else None)
