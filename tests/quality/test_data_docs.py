"""The Data Docs a gate run writes: every validation page names its data asset, no page carries GE's third-party
footer or loads anything from the network, and they open in headless Chromium with no console errors, offline."""

from __future__ import annotations

import pytest
from browser import chromium_path, open_page
from gatekit import MARTS, copy_lake, copy_project, options, sql

from mmhealth.quality.datadocs import external_loads, third_party_links
from mmhealth.quality.runner import run_check

needs_chromium = pytest.mark.skipif(chromium_path() is None,
                                    reason="chromium not installed (.ci/run installs Debian's chromium package)")
FC = "features_cardiovascular"


@pytest.fixture(scope="module")
def docs_site(baselined, small_pipeline, tmp_path_factory):
    lake, proj, _ = baselined
    root = tmp_path_factory.mktemp("docs")
    lake, proj = copy_lake(lake, root / "lake"), copy_project(root / "expectations", src=proj)
    assert run_check(options(proj, lake, small_pipeline.manifest, data_docs=True)).success
    sql(lake, f"""update {MARTS}.{FC} set systolic_bp_last = 420 where patient_key in (
                  select patient_key from {MARTS}.{FC} where systolic_bp_last is not null limit 2)""")
    failed = run_check(options(proj, lake, small_pipeline.manifest, checkpoint="features_only", data_docs=True))
    assert not failed.success
    site = lake / "quality" / "project" / "gx" / "uncommitted" / "data_docs" / "local_site"
    assert failed.data_docs == str(site / "index.html")
    return site, failed.run_id


def test_validation_pages_name_their_data_asset_and_no_page_has_a_third_party_footer(docs_site):
    site, _ = docs_site
    pages = list(site.rglob("*.html"))
    validations = [p for p in pages if p.relative_to(site).parts[0] == "validations"]
    assert len(validations) >= 10
    for page in validations:
        html = page.read_text()
        asset = page.stem.split("-", 1)[1]
        assert f"Data asset: {asset}" in html and "Data asset: None" not in html, page
    for page in pages:
        html = page.read_text()
        assert "<footer" not in html and "greatexpectations.io/newsletter" not in html, page
        assert third_party_links(html) == [] and external_loads(html) == [], page


@needs_chromium
def test_index_renders_both_runs_without_console_errors(docs_site, tmp_path):
    site, _ = docs_site
    shot = tmp_path / "data-docs-index.png"
    report = open_page(site / "index.html", screenshot=shot,
                       evaluate="document.querySelectorAll('table tbody tr').length")
    assert report.errors == []
    assert report.value >= 10  # one row per validation of both runs (and the suites' table)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


@needs_chromium
def test_failed_validation_page_renders_without_console_errors(docs_site, tmp_path):
    site, run_id = docs_site
    pages = [p for p in (site / "validations").rglob("*.html") if run_id in str(p)]
    # validations/<suite>/<run name>/<run time>/<datasource>-<asset>.html: the invariants page of the failed run
    page = next(p for p in pages if p.relative_to(site).parts[1] == f"{FC}__invariants")
    report = open_page(page, screenshot=tmp_path / "failed.png", evaluate="document.body.innerText")
    assert report.errors == []
    assert "systolic_bp_last" in report.value and f"Data asset: {FC}" in report.value


@needs_chromium
def test_suite_page_renders_without_console_errors(docs_site):
    site, _ = docs_site
    report = open_page(site / "expectations" / "deidentification.html", evaluate="document.body.innerText")
    assert report.errors == []
    assert "identifier" in report.value.lower()
