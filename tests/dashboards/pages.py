"""A dashboard page as headless Chromium leaves it: the DOM after its scripts drew the visuals, everything the page
said (console, uncaught exceptions, failed loads) and a screenshot. Built on the shared DevTools helper. Plus
readers of what a built page embeds (its JSON, a patient's data script), written independently of the builder."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from browser import chromium_path, open_page

DRAWN = "document.body && document.body.dataset.rendered === 'true'"

# Every chart of the page as plotly holds it (what it drew): per chart its bar mode, annotations and traces.
CHARTS = """[...document.querySelectorAll('div.chart')].filter((el) => el.data).map((el) => ({
  id: el.id.replace(/^v-/, ''), barmode: (el.layout || {}).barmode,
  annotations: ((el.layout || {}).annotations || []).map((a) => a.text),
  traces: el.data.map((t) => ({name: t.name, type: t.type, x: t.x, y: t.y, text: t.text,
                               symbols: (t.marker || {}).symbol}))}))"""


@dataclass
class Rendered:
    dom: str
    console: list[str]  # everything the page said (PageReport.messages)
    screenshot: Path
    value: object = None  # what `script` returned, if one was given

    @property
    def page_errors(self) -> str | None:
        """The page's own error trap (<html data-errors>, assets/error_trap.js) as JSON text."""
        match = re.search(r'<html[^>]*data-errors="([^"]*)"', self.dom)
        return match.group(1) if match else None


def render(url: str, screenshot: Path, width: int = 1400, height: int = 1800, script: str | None = None) -> Rendered:
    """The page once drawn; `script` (a JavaScript expression) is evaluated after that, its value returned."""
    if chromium_path() is None:
        pytest.fail("Debian chromium is not installed (apt-get install -y chromium); .ci/run installs it")
    # The renderer flags <body data-rendered> once every visual is drawn; the DOM is read after that.
    expression = "document.documentElement.outerHTML"
    if script:
        expression = f"JSON.stringify([document.documentElement.outerHTML, {script}])"
    report = open_page(url, screenshot=screenshot, evaluate=expression, wait_until=DRAWN, width=width, height=height)
    if script:
        dom, value = json.loads(report.value)
        return Rendered(dom, report.messages, screenshot, value)
    return Rendered(report.value, report.messages, screenshot)


def section(dom: str, visual_id: str) -> str:
    """The card of one visual in a page's DOM."""
    start = dom.index(f'id="v-{visual_id}"')
    return dom[start:dom.index("</section>", start)]


def payload(page: Path) -> dict:
    """The JSON a built page embeds (visual specs, data or patient list)."""
    text = page.read_text(encoding="utf-8")
    match = re.search(r'<script id="page-data" type="application/json">(.*?)</script>', text, re.S)
    return json.loads(match.group(1))


def patient_data(site: Path, page: dict, key: str) -> dict:
    """One patient's rows: the script the patient page loads for them, read as the JSON it assigns."""
    entry = next(p for p in page["patients"] if p["key"] == key)
    text = (site / entry["file"]).read_text(encoding="utf-8")
    match = re.fullmatch(r'\(window\.MMH_PATIENT_DATA = window\.MMH_PATIENT_DATA \|\| \{\}\)\[(".*?")\] = (.*);\n',
                         text, re.S)
    assert match and json.loads(match.group(1)) == key
    return json.loads(match.group(2))


def charts(rendered: Rendered) -> dict[str, dict]:
    assert rendered.value is not None, "render the page with script=CHARTS"
    return {c["id"]: c for c in rendered.value}


def bar_heights(chart: dict) -> dict[str, float]:
    """Each bar's height as the reader sees it: stacked bars add up per category, grouped bars stand alone."""
    heights: dict[str, float] = {}
    for t in chart["traces"]:
        if t["type"] != "bar":
            continue
        for x, y in zip(t["x"], t["y"]):
            y = y or 0
            heights[x] = heights.get(x, 0) + y if chart["barmode"] == "stack" else max(heights.get(x, 0), y)
    return heights
