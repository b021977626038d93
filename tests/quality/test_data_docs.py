"""The Data Docs a gate run writes open in headless Chromium with no console errors, offline."""

from __future__ import annotations

import pytest

from browser import chromium_path, open_page
from mmhealth.quality.runner import CheckOptions, run_check

pytestmark = pytest.mark.skipif(chromium_path() is None,
                                reason="chromium not installed (.ci/run installs Debian's chromium package)")


@pytest.fixture(scope="module")
def docs_site(tmp_path_factory, repo_root, clean_frames):
    lake = tmp_path_factory.mktemp("docs") / "lake"
    project = repo_root / "expectations"
    assert run_check(CheckOptions(project=project, lake=lake), frames=clean_frames).success
    bad = clean_frames["features_cardiovascular"].copy()
    bad.loc[[0, 1], "systolic_bp_last"] = 420.0
    failed = run_check(CheckOptions(project=project, lake=lake, checkpoint="features_only"),
                       frames={"features_cardiovascular": bad})
    assert not failed.success
    return lake / "quality" / "gx" / "uncommitted" / "data_docs" / "local_site", failed.run_id


def test_index_renders_both_runs_without_console_errors(docs_site, tmp_path):
    site, _ = docs_site
    shot = tmp_path / "data-docs-index.png"
    report = open_page(site / "index.html", screenshot=shot,
                       evaluate="document.querySelectorAll('table tbody tr').length")
    assert report.errors == []
    assert report.value >= 10  # one row per validation of both runs (and the suites' table)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_failed_validation_page_renders_without_console_errors(docs_site, tmp_path):
    site, run_id = docs_site
    pages = [p for p in (site / "validations").rglob("*.html") if run_id in str(p)]
    # validations/<suite>/<run name>/<run time>/<batch>.html: the contract suite's page of the failed run
    page = next(p for p in pages if p.relative_to(site).parts[1] == "features_cardiovascular")
    report = open_page(page, screenshot=tmp_path / "failed.png", evaluate="document.body.innerText")
    assert report.errors == []
    assert "systolic_bp_last" in report.value


def test_suite_page_renders_without_console_errors(docs_site):
    site, _ = docs_site
    report = open_page(site / "expectations" / "deidentification.html", evaluate="document.body.innerText")
    assert report.errors == []
    assert "identifier" in report.value.lower()
