"""Static local dashboards: the same sheets and visuals as QuickSight, as HTML files that need no server.

Data flow: the DuckDB warehouse dbt built -> one small table per visual (aggregated here, in pandas, exactly as
the visual's fields say) -> JSON embedded in the page -> drawn by plotly.js, which is inlined from the installed
`plotly` package so the pages open offline. The patient page embeds every listed patient's rows keyed by the
pseudonymous patient_key and filters them in the browser; `?patient=<key>` in the URL preselects a patient.

Small-cell suppression: the population models null counts below the threshold. Such a null is drawn as the
text "<threshold>" (bars at zero height, table cells), never as a number; it is never recomputed from rows.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass
from pathlib import Path

from mmhealth.dashboards.layout import Dashboard, Field, Sheet, Visual
from mmhealth.errors import MMHealthError

TABLE_ROWS_PER_PATIENT = 100  # a patient's table visuals show the latest rows only; charts use all rows


@dataclass(frozen=True)
class Page:
    filename: str
    title: str
    dashboard: Dashboard
    sheet: Sheet


@dataclass
class BuildSummary:
    pages: list[Path]
    patients: int
    rows_read: int


def pages_for(dashboards: tuple[Dashboard, ...]) -> list[Page]:
    pages = []
    for dash in dashboards:
        for sheet in dash.sheets:
            stem = dash.id.removeprefix("mmhealth-")
            filename = f"{stem}.html" if len(dash.sheets) == 1 else f"{stem}-{sheet.id}.html"
            pages.append(Page(filename, f"{dash.name.split(' - ')[-1]}: {sheet.name}", dash, sheet))
    return pages


# ---- data: one small frame per visual -------------------------------------------------------------------------


_PERIOD_FORMAT = {"YEAR": "%Y", "MONTH": "%Y-%m", "DAY": "%Y-%m-%d"}


def _period(series, granularity: str):
    import pandas as pd

    return pd.to_datetime(series, errors="coerce").dt.strftime(_PERIOD_FORMAT[granularity])


def _aggregate(frame, keys: list[str], values: tuple[Field, ...], flag: str | None = None):
    """Group and aggregate like QuickSight would. A suppressible SUM with any NULL in its group stays NULL:
    a suppressed count must not turn into a smaller, wrong number."""
    import pandas as pd

    if frame.empty:
        return pd.DataFrame(columns=[*keys, *[v.column for v in values], *([flag] if flag else [])])
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
    if flag:
        out[flag] = grouped[flag].agg(lambda s: bool(s.fillna(False).astype(bool).any()))
    return pd.DataFrame(out).reset_index()


def visual_frame(visual: Visual, frame, patient_column: str | None = None):
    """The rows a visual draws. `frame` holds the columns the visual reads (already limited to the listed
    patients); its filters are applied here."""
    import pandas as pd

    for column, values in visual.filters:
        frame = frame[frame[column].isin(values)]
    keys = [patient_column] if patient_column else []
    flag = [visual.suppression_flag] if visual.suppression_flag else []
    if visual.kind == "table":
        cols = keys + [c.column for c in visual.columns if c.column not in keys] + flag
        table = frame[cols].copy()
        if visual.sort:
            column, direction = visual.sort
            table = table.sort_values(column, ascending=direction == "ASC", na_position="last", kind="stable")
        if patient_column:
            table = table.groupby(patient_column, sort=False).head(TABLE_ROWS_PER_PATIENT)
        for c in visual.columns:
            if c.role == "date":  # a date reads as a date, not as midnight of it
                table[c.column] = _period(table[c.column], "DAY")
        return table
    frame = frame.copy()
    for f in (visual.x, visual.color):
        if f is None:
            continue
        if f.role == "date":
            frame[f.column] = _period(frame[f.column], f.granularity)
        frame[f.column] = frame[f.column].astype("string").fillna("unknown")
        keys.append(f.column)
    return _aggregate(frame, keys, visual.values, visual.suppression_flag)


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


# ---- reading the warehouse ------------------------------------------------------------------------------------


class Warehouse:
    """Read-only access to the models dbt built in the local DuckDB warehouse."""

    def __init__(self, path: Path, relations: dict[str, str]):
        import duckdb

        if not path.exists():
            raise MMHealthError(f"{path}: warehouse not found - run `dbt build` (DBT_PROFILES_DIR=.) or pass --warehouse")
        self.path = path
        self.con = duckdb.connect(str(path), read_only=True)
        self.relations = relations
        self.rows_read = 0

    def relation(self, model: str) -> str:
        try:
            return self.relations[model]
        except KeyError:
            raise MMHealthError(
                f"{self.path}: no relation for dbt model '{model}' in the manifest - run `dbt build` so the "
                "manifest and warehouse include it"
            ) from None

    def columns(self, model: str) -> set[str]:
        rel = self.relation(model)
        try:
            return {r[0] for r in self.con.execute(f"describe {rel}").fetchall()}
        except Exception as exc:  # duckdb.CatalogException: the model was never built here
            raise MMHealthError(f"{self.path}: {rel} not found ({exc.__class__.__name__}) - run `dbt build`") from None

    def read(self, model: str, columns: list[str], patient_column: str | None = None, patients: list[str] | None = None):
        cols = ", ".join(f'"{c}"' for c in dict.fromkeys(columns))
        sql = f"select {cols} from {self.relation(model)}"
        params: list = []
        if patient_column and patients is not None:
            sql += f' where "{patient_column}" in (select unnest(?))'
            params.append(patients)
        frame = self.con.execute(sql, params).df()
        self.rows_read += len(frame)
        return frame

    def close(self) -> None:
        self.con.close()


def list_patients(wh: Warehouse, dash: Dashboard, max_patients: int) -> list[str]:
    rel = wh.relation(dash.patient_list_model)
    col = dash.patient_filter_column
    rows = wh.con.execute(
        f'select distinct "{col}" from {rel} where "{col}" is not null order by 1 limit {int(max_patients)}'
    ).fetchall()
    return [r[0] for r in rows]


def page_data(wh: Warehouse, page: Page, patients: list[str] | None) -> dict:
    """Embedded data of one page. Population: {visual_id: columns}. Patient: {patient_key: {visual_id: columns}}."""
    dash, pcol = page.dashboard, page.dashboard.patient_filter_column
    if not pcol:
        data = {}
        for v in page.sheet.visuals:
            frame = wh.read(v.model, list(v.columns_read()))
            data[v.id] = columnar(visual_frame(v, frame))
        return data
    per_patient: dict[str, dict] = {p: {} for p in patients or []}
    for v in page.sheet.visuals:
        frame = wh.read(v.model, [pcol, *v.columns_read()], pcol, patients)
        vf = visual_frame(v, frame, pcol)
        shown = [f.column for f in v.fields()]
        for key, rows in vf.groupby(pcol, sort=False):
            per_patient.setdefault(key, {})[v.id] = columnar(rows if pcol in shown else rows.drop(columns=[pcol]))
    return per_patient


# ---- HTML -----------------------------------------------------------------------------------------------------


def visual_spec(v: Visual) -> dict:
    def f(field: Field | None):
        if field is None:
            return None
        return {"column": field.column, "title": field.title, "role": field.role, "suppression": field.suppression,
                "granularity": field.granularity}

    return {
        "id": v.id,
        "title": v.title,
        "subtitle": v.subtitle,
        "kind": v.kind,
        "x": f(v.x),
        "color": f(v.color),
        "values": [f(x) for x in v.values],
        "columns": [f(x) for x in v.columns],
        "flag": v.suppression_flag,
        "stacked": v.stacked,
    }


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1f2933;background:#f5f7fa}
header{background:#243b53;color:#fff;padding:12px 24px}header h1{margin:0;font-size:20px}
nav a{color:#bcccdc;margin-right:16px;text-decoration:none}nav a.active{color:#fff;font-weight:600}
main{padding:16px 24px}.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:16px}
.card{background:#fff;border-radius:6px;box-shadow:0 1px 3px rgba(0,0,0,.12);padding:12px}
.card h2{font-size:15px;margin:0 0 4px}.card p.sub{font-size:12px;color:#627d98;margin:0 0 6px}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border-bottom:1px solid #e4e7eb;padding:4px 6px;
text-align:left}th{background:#f0f4f8}td.suppressed{color:#9f580a;font-weight:600}.chart{height:340px}
div.table{max-height:340px;overflow:auto}table.record th{width:40%}td{overflow-wrap:anywhere}
.controls{margin:0 0 12px}.controls select{font-size:14px;padding:4px}.note{font-size:12px;color:#627d98}
.empty{color:#9aa5b1;font-style:italic;padding:24px 0}
"""

# Installed first in <head>: every error (uncaught, rejected promise, console.error) is kept and mirrored to
# <html data-errors>, so a headless browser's DOM dump shows whether the page rendered cleanly.
_ERROR_TRAP = r"""
(function () {
  const errors = [];
  const note = (m) => { errors.push(String(m)); document.documentElement.dataset.errors = JSON.stringify(errors); };
  document.documentElement.dataset.errors = '[]';
  window.addEventListener('error', (e) => note(e.message || e));
  window.addEventListener('unhandledrejection', (e) => note(e.reason));
  const original = console.error.bind(console);
  console.error = (...args) => { note(args.join(' ')); original(...args); };
})();
"""

# The renderer: draws every visual of the page from its embedded rows. Kept small and dependency-free apart
# from plotly.js, so what the page shows is easy to audit.
_JS = r"""
(function () {
  const PAGE = JSON.parse(document.getElementById('page-data').textContent);
  const SUP = '<' + PAGE.minCell;
  const isNull = (v) => v === null || v === undefined;
  // A NULL is shown as suppressed only where the model flagged the row; otherwise it is missing data.
  const masked = (v, f, rows, i) => {
    const flagged = !v.flag || !rows[v.flag] || rows[v.flag][i] === true;
    if (!flagged) return 'n/a';
    return f.suppression === 'count' ? SUP : 'suppressed';
  };
  const fmt = (v) => (typeof v === 'number' && !Number.isInteger(v)) ? v.toFixed(3) : String(v);

  function table(el, v, rows) {
    const cols = v.columns;
    const n = rows && cols.length && rows[cols[0].column] ? rows[cols[0].column].length : 0;
    if (!n) { el.innerHTML = '<div class="empty">No rows.</div>'; return; }
    const cell = (c, i) => {
      const val = rows[c.column][i];
      if (isNull(val) && c.suppression && masked(v, c, rows, i) !== 'n/a')
        return '<td class="suppressed">' + esc(masked(v, c, rows, i)) + '</td>';
      if (isNull(val)) return '<td>—</td>';
      return '<td>' + esc(fmt(val)) + '</td>';
    };
    if (n === 1 && cols.length > 4) {  // one record (a patient): read it top to bottom
      el.innerHTML = '<table class="record"><tbody>' +
        cols.map((c) => '<tr><th>' + esc(c.title) + '</th>' + cell(c, 0) + '</tr>').join('') + '</tbody></table>';
      return;
    }
    let h = '<table><thead><tr>' + cols.map((c) => '<th>' + esc(c.title) + '</th>').join('') + '</tr></thead><tbody>';
    for (let i = 0; i < n; i++) h += '<tr>' + cols.map((c) => cell(c, i)).join('') + '</tr>';
    el.innerHTML = h + '</tbody></table>';
  }

  function esc(s) {
    return String(s).replace(/[&<>"']/g, (c) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c]));
  }

  function traces(v, rows) {
    const xs = rows[v.x.column] || [];
    const out = [];
    const series = [];
    const hidden = {type: 'scatter', mode: 'markers', name: SUP + ' (suppressed)', x: [], y: [], text: [],
                    marker: {symbol: 'x', color: '#9f580a', size: 7}, hovertemplate: '%{x}: %{text}<extra></extra>'};
    if (v.color) {
      const groups = [...new Set(rows[v.color.column])];
      for (const g of groups) series.push({name: String(g), value: v.values[0], pick: (i) => rows[v.color.column][i] === g});
    } else {
      for (const val of v.values) series.push({name: val.title, value: val, pick: () => true});
    }
    for (const s of series) {
      const x = [], y = [], text = [];
      for (let i = 0; i < xs.length; i++) {
        if (!s.pick(i)) continue;
        const val = rows[s.value.column][i];
        x.push(String(xs[i]));
        if (isNull(val)) { y.push(0); text.push(s.value.suppression ? masked(v, s.value, rows, i) : 'n/a'); }
        else { y.push(val); text.push(fmt(val)); }
      }
      const t = {name: s.name, x: x, y: y, text: text, hovertemplate: '%{x}: %{text}<extra>' + esc(s.name) + '</extra>'};
      if (v.kind === 'bar') { t.type = 'bar'; t.textposition = 'outside'; t.cliponaxis = false; }
      else {
        // Lines: a suppressed point is a gap in its line and a marker in one "<11 (suppressed)" series, so
        // long series stay readable and no suppressed point is drawn as a number.
        t.type = 'scatter'; t.mode = 'lines+markers';
        for (let j = 0; j < x.length; j++) {
          if (text[j] !== SUP && text[j] !== 'suppressed') continue;
          hidden.x.push(x[j]); hidden.y.push(0); hidden.text.push(s.name + ': ' + text[j]); t.y[j] = null;
        }
      }
      out.push(t);
    }
    if (hidden.x.length) out.push(hidden);
    return out;
  }

  function chart(el, v, rows) {
    const n = rows && v.x && rows[v.x.column] ? rows[v.x.column].length : 0;
    if (!n) { Plotly.purge(el); el.innerHTML = '<div class="empty">No data.</div>'; return; }
    if (el.querySelector('.empty')) el.innerHTML = '';
    const layout = {margin: {t: 24, r: 12, b: 48, l: 56}, barmode: v.stacked ? 'stack' : 'group', showlegend: true,
                    xaxis: {title: {text: v.x.title},
                            type: (v.x.role === 'date' && v.x.granularity === 'DAY') ? 'date' : 'category'},
                    yaxis: {title: {text: v.values.length === 1 ? v.values[0].title : ''}, rangemode: 'tozero'},
                    legend: {orientation: 'h', y: -0.25}};
    Plotly.react(el, traces(v, rows), layout, {displayModeBar: false, responsive: true});
  }

  function render(key) {
    const data = PAGE.patients ? (PAGE.data[key] || {}) : PAGE.data;
    for (const v of PAGE.visuals) {
      const el = document.getElementById('v-' + v.id);
      const rows = data[v.id] || {};
      if (v.kind === 'table') table(el, v, rows); else chart(el, v, rows);
    }
    document.body.dataset.patient = key || '';
    document.body.dataset.rendered = 'true';
  }

  if (PAGE.patients) {
    const sel = document.getElementById('patient');
    const wanted = new URLSearchParams(location.search).get('patient') || location.hash.replace(/^#patient=/, '');
    const start = PAGE.patients.includes(wanted) ? wanted : PAGE.patients[0];
    sel.value = start;
    sel.addEventListener('change', () => {
      history.replaceState(null, '', '?patient=' + encodeURIComponent(sel.value));
      render(sel.value);
    });
    render(start);
  } else {
    render(null);
  }
})();
"""


def render_page(page: Page, pages: list[Page], data: dict, patients: list[str] | None, min_cell: int, plotly_js: str) -> str:
    nav = " ".join(
        f'<a href="{p.filename}"{" class=active" if p is page else ""}>{html.escape(p.title)}</a>' for p in pages
    )
    cards = "".join(
        f'<section class="card"><h2>{html.escape(v.title)}</h2>'
        + (f'<p class="sub">{html.escape(v.subtitle)}</p>' if v.subtitle else "")
        + f'<div id="v-{v.id}" class="{"table" if v.kind == "table" else "chart"}"></div></section>'
        for v in page.sheet.visuals
    )
    controls = ""
    if patients is not None:
        options = "".join(f'<option value="{html.escape(p)}">{html.escape(p)}</option>' for p in patients)
        controls = (
            '<div class="controls"><label for="patient">Patient (pseudonymous key): </label>'
            f'<select id="patient">{options}</select> <span class="note">{len(patients)} patients</span></div>'
        )
    payload = {
        "visuals": [visual_spec(v) for v in page.sheet.visuals],
        "data": data,
        "patients": patients,
        "minCell": min_cell,
    }
    # "</" inside a <script> would end it early; JSON allows the escaped form.
    embedded = json.dumps(payload, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    suppression = (
        f'<p class="note">Counts below {min_cell} are suppressed and shown as &lt;{min_cell}.</p>'
        if patients is None else
        '<p class="note">Patient-level, pseudonymous data: handle as the marts it comes from.</p>'
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mmhealth - {html.escape(page.title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style>
<script>{_ERROR_TRAP}</script><script>{plotly_js}</script></head>
<body><header><h1>mmhealth · {html.escape(page.title)}</h1><nav>{nav}</nav></header>
<main>{controls}<p class="note">{html.escape(page.sheet.description)}</p>{suppression}
<div class="grid">{cards}</div></main>
<script id="page-data" type="application/json">{embedded}</script>
<script>{_JS}</script></body></html>
"""


def render_index(pages: list[Page]) -> str:
    links = "".join(f'<li><a href="{p.filename}">{html.escape(p.title)}</a></li>' for p in pages)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>mmhealth dashboards</title>'
        f"<style>{_CSS}</style></head><body><header><h1>mmhealth dashboards</h1></header>"
        f"<main><ul>{links}</ul></main></body></html>\n"
    )


def build(
    dashboards: tuple[Dashboard, ...],
    warehouse: Warehouse,
    out: Path,
    *,
    min_cell: int,
    max_patients: int,
    progress=None,
) -> BuildSummary:
    from plotly.offline import get_plotlyjs

    plotly_js = get_plotlyjs()
    pages = pages_for(dashboards)
    out.mkdir(parents=True, exist_ok=True)
    written, n_patients = [], 0
    for page in pages:
        patients = None
        if page.dashboard.patient_filter_column:
            patients = list_patients(warehouse, page.dashboard, max_patients)
            n_patients = len(patients)
        data = page_data(warehouse, page, patients)
        path = out / page.filename
        path.write_text(render_page(page, pages, data, patients, min_cell, plotly_js), encoding="utf-8")
        written.append(path)
        if progress:
            progress.update(1)
    index = out / "index.html"
    index.write_text(render_index(pages), encoding="utf-8")
    written.append(index)
    return BuildSummary(pages=written, patients=n_patients, rows_read=warehouse.rows_read)
