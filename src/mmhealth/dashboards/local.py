"""Static local dashboards: the same sheets and visuals as QuickSight, as HTML files that need no server.

Data flow: the DuckDB warehouse dbt built -> one small table per visual (`frames.py`: aggregated in pandas
exactly as the visual's fields say) -> JSON embedded in the page -> drawn by the renderer script, with
plotly.js. The site shares one copy of plotly.js (from the installed `plotly` package), the renderer and the
style sheet, written beside the pages (package data under `assets/`), so a page carries only its own data and
everything opens offline, from file:// or any static server.

The patient page lists patients under short labels (a prefix of the pseudonymous key, sex, age, modalities) and
keeps each patient's rows in a small script of its own under `patient-data/`, loaded when that patient is
chosen; `?patient=<key or key prefix>` in the URL preselects one.

Small-cell suppression: the population models null counts below the threshold. Such a null is drawn as the
text "<threshold>" (bars at zero height, table cells), never as a number; it is never recomputed from rows.
"""

from __future__ import annotations

import html
import json
import shutil
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from mmhealth.dashboards.frames import PatientEntry, default_patient, patient_entries, visual_columns, visual_frame
from mmhealth.dashboards.layout import Dashboard, Field, Sheet, Visual
from mmhealth.errors import MMHealthError

PATIENT_DATA_DIR = "patient-data"
STYLE_FILE = "mmhealth-dashboards.css"
SCRIPT_FILE = "mmhealth-dashboards.js"


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
    shared: list[Path] = field(default_factory=list)  # plotly.js, the renderer and the style sheet
    patient_files: int = 0  # one small script per listed patient


def pages_for(dashboards: tuple[Dashboard, ...]) -> list[Page]:
    pages = []
    for dash in dashboards:
        for sheet in dash.sheets:
            stem = dash.id.removeprefix("mmhealth-")
            filename = f"{stem}.html" if len(dash.sheets) == 1 else f"{stem}-{sheet.id}.html"
            pages.append(Page(filename, f"{dash.name.split(' - ')[-1]}: {sheet.name}", dash, sheet))
    return pages


def asset(name: str) -> str:
    return resources.files("mmhealth.dashboards").joinpath("assets", name).read_text(encoding="utf-8")


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


def list_patients(wh: Warehouse, dash: Dashboard, max_patients: int) -> list[PatientEntry]:
    """The patients the page lists, richest first: those with every modality, then fewer, each group by key
    (so the page can open on a patient with clinical, genomic and imaging data whenever one exists)."""
    rel = wh.relation(dash.patient_list_model)
    col = dash.patient_filter_column
    spec = dash.patient_label
    if spec is None:
        rows = wh.con.execute(
            f'select distinct "{col}" from {rel} where "{col}" is not null order by 1 limit {int(max_patients)}'
        ).fetchall()
        return [PatientEntry(r[0], r[0], ()) for r in rows]
    flags = [f'coalesce(cast("{c}" as boolean), false)' for c, _ in spec.modalities]
    richness = " + ".join(f"cast({f} as integer)" for f in flags) or "0"
    rows = wh.con.execute(
        f'select "{col}", "{spec.sex}", "{spec.age}", {", ".join(flags)} from {rel} where "{col}" is not null '
        f'order by {richness} desc, "{col}" limit {int(max_patients)}'
    ).fetchall()
    return patient_entries(rows, spec)


def page_data(wh: Warehouse, page: Page, patients: list[str] | None) -> dict:
    """Embedded data of one page. Population: {visual_id: columns}. Patient: {patient_key: {visual_id: columns}}."""
    pcol = page.dashboard.patient_filter_column
    if not pcol:
        data = {}
        for v in page.sheet.visuals:
            frame = wh.read(v.model, list(v.columns_read()))
            data[v.id] = visual_columns(v, visual_frame(v, frame))
        return data
    per_patient: dict[str, dict] = {p: {} for p in patients or []}
    for v in page.sheet.visuals:
        frame = wh.read(v.model, [pcol, *v.columns_read()], pcol, patients)
        vf = visual_frame(v, frame, pcol)
        shown = [f.column for f in v.fields()]
        for key, rows in vf.groupby(pcol, sort=False):
            rows = rows if pcol in shown else rows.drop(columns=[pcol])
            per_patient.setdefault(key, {})[v.id] = visual_columns(v, rows)
    return per_patient


# ---- HTML -----------------------------------------------------------------------------------------------------


def visual_spec(v: Visual) -> dict:
    def f(field: Field | None):
        if field is None:
            return None
        return {"column": field.column, "title": field.title, "role": field.role, "suppression": field.suppression,
                "granularity": field.granularity, "aggregation": field.aggregation, "format": field.number_format}

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
        "partial": v.partial_flag,
        "stacked": v.stacked,
    }


def _script_json(value) -> str:
    # "</" inside a <script> would end it early; JSON allows the escaped form.
    return json.dumps(value, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")


def patient_file(index: int) -> str:
    """Where a listed patient's rows live, by list position: file names never carry the key itself."""
    return f"{PATIENT_DATA_DIR}/p{index:05d}.js"


def patient_script(key: str, data: dict) -> str:
    return f"(window.MMH_PATIENT_DATA = window.MMH_PATIENT_DATA || {{}})[{_script_json(key)}] = {_script_json(data)};\n"


def render_page(page: Page, pages: list[Page], data: dict, patients: list[PatientEntry] | None, min_cell: int,
                plotly_file: str, start: str | None = None) -> str:
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
        controls = (
            '<div class="controls"><label for="patient-search">Patient:</label>'
            '<input id="patient-search" type="search" autocomplete="off" '
            'placeholder="search: key prefix, sex, age, modality (e.g. imaging)">'
            '<select id="patient" aria-label="Patient"></select>'
            f'<span class="note" id="patient-count">{len(patients)} patients</span></div>'
        )
    payload = {
        "visuals": [visual_spec(v) for v in page.sheet.visuals],
        "data": data if patients is None else None,
        "patients": None if patients is None else [
            {"key": p.key, "label": p.label, "file": patient_file(i)} for i, p in enumerate(patients)],
        "start": start,
        "minCell": min_cell,
    }
    suppression = (
        f'<p class="note">Counts below {min_cell} are suppressed and shown as &lt;{min_cell}.</p>'
        if patients is None else
        '<p class="note">Patient-level, pseudonymous data: handle as the marts it comes from. Labels show a '
        "prefix of the pseudonymous key, sex, age in years and the patient's modalities.</p>"
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mmhealth - {html.escape(page.title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<script>{asset("error_trap.js")}</script>
<link rel="stylesheet" href="{STYLE_FILE}"><script src="{html.escape(plotly_file)}"></script></head>
<body><header><h1>mmhealth · {html.escape(page.title)}</h1><nav>{nav}</nav></header>
<main>{controls}<p class="note">{html.escape(page.sheet.description)}</p>{suppression}
<div class="grid">{cards}</div></main>
<script id="page-data" type="application/json">{_script_json(payload)}</script>
<script src="{SCRIPT_FILE}"></script></body></html>
"""


def render_index(pages: list[Page]) -> str:
    links = "".join(f'<li><a href="{p.filename}">{html.escape(p.title)}</a></li>' for p in pages)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>mmhealth dashboards</title>'
        '<link rel="icon" href="data:,">'
        f'<link rel="stylesheet" href="{STYLE_FILE}"></head><body><header><h1>mmhealth dashboards</h1></header>'
        f"<main><ul>{links}</ul></main></body></html>\n"
    )


def _write_if_changed(path: Path, text: str) -> Path:
    if not (path.exists() and path.read_text(encoding="utf-8") == text):
        path.write_text(text, encoding="utf-8")
    return path


def write_shared(out: Path) -> tuple[str, list[Path]]:
    """plotly.js, the renderer and the style sheet, once per site. plotly's file is named for its version, so a
    page never runs against another plotly than the one it was built with. Returns plotly's file name."""
    from plotly.offline import get_plotlyjs, get_plotlyjs_version

    plotly_file = f"plotly-{get_plotlyjs_version()}.min.js"
    written = [
        _write_if_changed(out / plotly_file, get_plotlyjs()),
        _write_if_changed(out / SCRIPT_FILE, asset("dashboard.js")),
        _write_if_changed(out / STYLE_FILE, asset("dashboard.css")),
    ]
    return plotly_file, written


def write_patient_files(out: Path, patients: list[PatientEntry], data: dict) -> int:
    """One small script per listed patient; the folder is rewritten whole, so no earlier build's patient stays."""
    folder = out / PATIENT_DATA_DIR
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for i, p in enumerate(patients):
        (out / patient_file(i)).write_text(patient_script(p.key, data.get(p.key, {})), encoding="utf-8")
    return len(patients)


def build(
    dashboards: tuple[Dashboard, ...],
    warehouse: Warehouse,
    out: Path,
    *,
    min_cell: int,
    max_patients: int,
    progress=None,
) -> BuildSummary:
    pages = pages_for(dashboards)
    out.mkdir(parents=True, exist_ok=True)
    plotly_file, shared = write_shared(out)
    written, n_patients, n_files = [], 0, 0
    for page in pages:
        patients, start = None, None
        if page.dashboard.patient_filter_column:
            patients = list_patients(warehouse, page.dashboard, max_patients)
            n_patients = len(patients)
            if page.dashboard.patient_label:
                start = default_patient(patients, page.dashboard.patient_label)
            elif patients:
                start = patients[0].key
        data = page_data(warehouse, page, None if patients is None else [p.key for p in patients])
        if patients is not None:
            n_files = write_patient_files(out, patients, data)
        path = out / page.filename
        path.write_text(render_page(page, pages, data, patients, min_cell, plotly_file, start), encoding="utf-8")
        written.append(path)
        if progress:
            progress.update(1)
    index = out / "index.html"
    index.write_text(render_index(pages), encoding="utf-8")
    written.append(index)
    return BuildSummary(pages=written, patients=n_patients, rows_read=warehouse.rows_read, shared=shared,
                        patient_files=n_files)
