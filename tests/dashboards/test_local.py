"""Static local dashboards: built from a small warehouse, rendered in headless Chromium.

The warehouse here holds hand-made rows for every model the layout reads (so the expected pixels and cells are
known); `test_semantic.py` builds the pages from the real dbt marts as well."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from mmhealth.cli import main
from mmhealth.dashboards.layout import PATIENT, POPULATION, Field, Visual
from mmhealth.dashboards.local import pages_for, visual_frame

from .pages import render
from .fake_manifest import fake_manifest

SUPPRESSED_GENE_COUNT = 7  # what the suppressed cell would have been: it must never reach a page


def _tables() -> dict[str, pd.DataFrame]:
    return {
        "sq_patients_by_age_band_sex": pd.DataFrame({
            "age_band": ["20-29", "20-29", "40-49", "40-49", "70-79", "70-79"],
            "sex": ["female", "male", "female", "male", "female", "male"],
            "patient_count": [40, 38, 51, 47, 22, None],
            "is_suppressed": [False] * 5 + [True],
        }),
        "sq_outcomes_by_sex": pd.DataFrame({
            "sex": ["female", "male"],
            "prevalence_stroke": [0.12, None], "prevalence_hypertension": [0.41, 0.39],
            "prevalence_coronary_heart_disease": [0.2, 0.25], "prevalence_alzheimers": [None, None],
            "encounters_per_patient": [6.5, 5.9],
            "is_suppressed": [True, True],
        }),
        "sq_encounters_by_year_class": pd.DataFrame({
            "encounter_year": pd.to_datetime(["2018-01-01", "2018-01-01", "2019-01-01", "2019-01-01"]).date,
            "encounter_class": ["AMB", "EMER", "AMB", "EMER"],
            "encounter_count": [120, 14, 131, None],
            "is_suppressed": [False, False, False, True],
        }),
        "sq_modality_coverage": pd.DataFrame({
            "patient_count": [198], "patients_with_clinical": [198], "patients_with_genomics": [150],
            "patients_with_imaging": [None], "is_suppressed": [True],
        }),
        "sq_pathogenic_carriers_by_gene": pd.DataFrame({
            "gene": ["APOE", "BRCA1", "LDLR"], "pathogenic_variant_carriers": [33, None, 12],
            "is_suppressed": [False, True, False],
        }),
        "sq_lesion_volume_by_modality": pd.DataFrame({
            "modality": ["CT", "MR"], "imaged_patient_count": [20, 27], "image_set_count": [25, 31],
            "mean_lesion_volume_mm3": [1520.5, 1890.25], "is_suppressed": [False, False],
        }),
        "population_clinical": pd.DataFrame({
            "section": ["diagnoses", "diagnoses", "procedures", "demographics"],
            "category": ["59621000", "230690007", "430193006", "female"],
            "category_label": ["Essential hypertension", "Stroke", "Medication reconciliation", None],
            "patient_count": [45, None, 80, 99], "event_count": [51, None, 122, 99],
            "is_suppressed": [False, True, False, False],
        }),
        "population_genomic": pd.DataFrame({
            "gene_symbol": ["APOE", "APOE", "LDLR"],
            "clinical_significance": ["pathogenic", "risk_factor", "likely_pathogenic"],
            "carrier_count": [33, 60, None], "is_suppressed": [True, True, True],
            **{f"carriers_with_{o}": [None, 12, None] for o in ("stroke", "hypertension", "coronary_heart_disease",
                                                              "alzheimers")},
        }),
        "population_imaging": pd.DataFrame({
            # CT: suppressed (fewer than 11 patients); MR contrast: no values at all, which is not suppression.
            "modality": ["MR", "CT", "MR"],
            "feature_name": ["mask_volume_mm3", "mask_volume_mm3", "original_glcm_contrast"],
            "n_patients": [27, None, 0], "p10_value": [800.0, None, None], "median_value": [1700.0, None, None],
            "mean_value": [1890.25, None, None], "p90_value": [3100.0, None, None],
            "is_suppressed": [False, True, False],
        }),
        "patient_360": pd.DataFrame({
            "patient_key": ["pk-alpha", "pk-bravo", "pk-charlie"], "gender": ["female", "male", "female"],
            "age_years": [52, 71, 24], "has_clinical": [True, True, True],
            "has_genomics": [True, True, False], "has_imaging": [True, False, False],
            "n_encounters": [12, 4, 1], "apoe_genotype": ["e3/e4", "e3/e3", None], "n_pathogenic": [1, 0, None],
        }),
        "patient_timeline": pd.DataFrame({
            "patient_key": ["pk-alpha"] * 6 + ["pk-bravo"] * 2,
            "event_date": pd.to_datetime(["2015-03-01", "2015-03-01", "2016-07-09", "2016-08-01", "2019-01-02",
                                          "2018-03-01", "2012-05-05", "2020-02-02"]).date,
            "modality": ["clinical", "clinical", "clinical", "imaging", "genomic", "clinical", "clinical", "clinical"],
            "event_type": ["observation", "observation", "condition", "imaging_study", "genetic_report",
                           "observation", "encounter", "encounter"],
            "code": ["8480-6", "8462-4", "59621000", None, None, "8480-6", None, None],
            "description": ["Systolic blood pressure", "Diastolic blood pressure", "Hypertension", "MR brain",
                            "Genetic report", "Systolic blood pressure", "Emergency visit", "Checkup"],
            "value_numeric": [141.0, 92.0, None, None, None, 128.0, None, None],
            "value_unit": ["mm[Hg]", "mm[Hg]", None, None, None, "mm[Hg]", None, None],
        }),
        "fct_variant_clinvar": pd.DataFrame({
            "patient_key": ["pk-alpha", "pk-bravo"], "gene_symbol": ["APOE", "LDLR"], "rsid": ["rs429358", "rs1"],
            "clinical_significance": ["risk_factor", "pathogenic"], "significance_rank": [0, 5],
            "zygosity": ["heterozygous", "homozygous_alt"],
        }),
        "fct_radiomics": pd.DataFrame({
            "patient_key": ["pk-alpha"], "image_set_id": ["imgset-0001"], "modality": ["MR"],
            "mask_volume_mm3": [1432.0],
        }),
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("local-dash")
    warehouse = root / "mini.duckdb"
    con = duckdb.connect(str(warehouse))
    con.execute("create schema dash")
    for name, frame in _tables().items():
        con.register("frame", frame)
        con.execute(f"create table dash.{name} as select * from frame")
        con.unregister("frame")
    con.close()
    manifest = root / "manifest.json"
    manifest.write_text(json.dumps(fake_manifest(schema="dash", catalog="mini")))
    out = root / "site"
    rc = main(["dashboards", "build", "--out", str(out), "--warehouse", str(warehouse), "--manifest", str(manifest),
               "--min-cell-count", "11"])
    assert rc == 0
    return out


def _payload(page: Path) -> dict:
    text = page.read_text(encoding="utf-8")
    match = re.search(r'<script id="page-data" type="application/json">(.*?)</script>', text, re.S)
    return json.loads(match.group(1))


def test_pages_are_self_contained(built):
    names = sorted(p.name for p in built.glob("*.html"))
    assert names == sorted(["index.html", *[p.filename for p in pages_for((POPULATION, PATIENT))]])
    for page in built.glob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"<(script|link)[^>]+(src|href)=\"https?:", text), f"{page.name} loads from the network"
    assert "plotly" in (built / "population-clinical.html").read_text(encoding="utf-8")[:4_000_000].lower()


def test_suppressed_counts_are_embedded_as_null_never_as_numbers(built):
    genomic = _payload(built / "population-genomic.html")
    carriers = genomic["data"]["genomic-carriers-by-gene"]
    assert carriers["gene"] == ["APOE", "BRCA1", "LDLR"]
    assert carriers["pathogenic_variant_carriers"] == [33, None, 12]
    assert genomic["minCell"] == 11


def test_patient_page_embeds_each_patients_rows_under_their_key(built):
    payload = _payload(built / "patient.html")
    assert payload["patients"] == ["pk-alpha", "pk-bravo", "pk-charlie"]
    alpha, bravo = payload["data"]["pk-alpha"], payload["data"]["pk-bravo"]
    assert alpha["patient-variants"]["gene_symbol"] == ["APOE"] and bravo["patient-variants"]["gene_symbol"] == ["LDLR"]
    assert alpha["patient-lesions"]["mask_volume_mm3"] == [1432.0] and "patient-lesions" not in bravo
    # The timeline chart is per year and modality, counted in Python the way QuickSight counts.
    timeline = alpha["patient-timeline"]
    assert list(zip(timeline["event_date"], timeline["modality"], timeline["event_type"])) == [
        ("2015", "clinical", 2), ("2016", "clinical", 1), ("2016", "imaging", 1), ("2018", "clinical", 1),
        ("2019", "genomic", 1)]
    assert alpha["patient-events"]["event_date"][0] == "2019-01-02"  # latest first, shown as a date
    # The blood-pressure chart keeps only its two LOINC codes, by day.
    bp = alpha["patient-blood-pressure"]
    assert sorted(zip(bp["event_date"], bp["description"], bp["value_numeric"])) == [
        ("2015-03-01", "Diastolic blood pressure", 92.0), ("2015-03-01", "Systolic blood pressure", 141.0),
        ("2018-03-01", "Systolic blood pressure", 128.0)]


def test_sum_of_a_group_with_a_suppressed_cell_stays_suppressed():
    visual = Visual("v", "t", "bar", "m", x=Field("sex"), values=(Field("n", "measure", "SUM", suppression="count"),))
    frame = pd.DataFrame({"sex": ["f", "f", "m", "m", None], "n": [12, None, 20, 15, 11]})
    out = visual_frame(visual, frame).set_index("sex")["n"]
    assert pd.isna(out["f"]) and out["m"] == 35 and out["unknown"] == 11


@pytest.fixture(scope="module")
def rendered(built) -> dict[str, object]:
    """Each page rendered once in headless Chromium (the patient page preselects pk-alpha)."""
    out = {}
    for page in pages_for((POPULATION, PATIENT)):
        query = "?patient=pk-alpha" if page.dashboard is PATIENT else ""
        out[page.filename] = render((built / page.filename).as_uri() + query, built / f"{Path(page.filename).stem}.png")
    return out


@pytest.mark.parametrize("page", [p.filename for p in pages_for((POPULATION, PATIENT))])
def test_every_page_renders_without_console_errors(rendered, page):
    result = rendered[page]
    assert result.console == [], result.console
    assert result.page_errors == "[]"
    assert 'data-rendered="true"' in result.dom
    assert result.screenshot.stat().st_size > 20_000  # a drawn page, not a blank one
    charts = re.findall(r'<div id="v-[^"]+" class="chart', result.dom)
    drawn = re.findall(r'<svg class="main-svg"', result.dom)
    assert charts and len(drawn) >= len(charts) - (1 if page == "patient.html" else 0)


def test_suppressed_cells_show_as_less_than_threshold_in_the_browser(rendered):
    dom = rendered["population-genomic.html"].dom
    assert '<td class="suppressed">&lt;11</td>' in dom  # modality coverage table, imaging cell
    bars = dom[dom.index('id="v-genomic-carriers-by-gene"'):]
    bars = bars[:bars.index("</section>")]
    assert "&lt;11" in bars  # the BRCA1 bar is labelled <11
    assert f">{SUPPRESSED_GENE_COUNT}<" not in bars
    clinical = rendered["population-clinical.html"].dom
    diagnoses = _section(clinical, "clinical-diagnoses")
    assert "Essential hypertension" in diagnoses and "Medication reconciliation" not in diagnoses  # section filter
    assert diagnoses.count("&lt;11") == 2  # the stroke row: both counts suppressed
    encounters = _section(clinical, "clinical-encounters-by-year")
    assert "&lt;11 (suppressed)" in encounters  # the suppressed 2019 EMER point, as a marker in its own series
    prevalence = _section(clinical, "clinical-outcome-prevalence")
    assert "suppressed" in prevalence  # a nulled ratio says so, it is not drawn as 0
    imaging = _section(rendered["population-imaging.html"].dom, "imaging-feature-distributions")
    rows = re.findall(r"<tr>(.*?)</tr>", imaging)
    ct = next(r for r in rows if "CT" in r)
    contrast = next(r for r in rows if "original_glcm_contrast" in r)
    assert ct.count(">suppressed<") == 4 and "&lt;11" in ct
    assert "suppressed" not in contrast and "&lt;11" not in contrast  # missing data is not suppression


def _section(dom: str, visual_id: str) -> str:
    start = dom.index(f'id="v-{visual_id}"')
    return dom[start:dom.index("</section>", start)]


def test_choosing_another_patient_changes_the_visuals(built, rendered):
    alpha = rendered["patient.html"]
    bravo = render((built / "patient.html").as_uri() + "?patient=pk-bravo", built / "patient-bravo.png")
    assert 'data-patient="pk-alpha"' in alpha.dom and 'data-patient="pk-bravo"' in bravo.dom
    assert bravo.console == [] and bravo.page_errors == "[]"
    for visual in PATIENT.visuals():
        assert _section(alpha.dom, visual.id) != _section(bravo.dom, visual.id), f"{visual.id} did not change"
    assert "APOE" in _section(alpha.dom, "patient-variants") and "LDLR" in _section(bravo.dom, "patient-variants")
    assert "imgset-0001" in _section(alpha.dom, "patient-lesions")
    assert "No data." in _section(bravo.dom, "patient-lesions")
    assert alpha.screenshot.read_bytes() != bravo.screenshot.read_bytes()


def test_missing_inputs_are_one_line_errors(tmp_path, capsys):
    rc = main(["dashboards", "build", "--out", str(tmp_path / "o"), "--manifest", str(tmp_path / "nope.json")])
    err = capsys.readouterr().err
    assert rc == 1 and "nope.json: dbt manifest not found" in err and len(err.strip().splitlines()) == 1
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(fake_manifest(schema="dash", catalog="mini")))
    rc = main(["dashboards", "build", "--out", str(tmp_path / "o"), "--manifest", str(manifest),
               "--warehouse", str(tmp_path / "missing.duckdb")])
    assert rc == 1 and "warehouse not found - run `dbt build`" in capsys.readouterr().err


def test_a_mart_missing_a_column_is_named(tmp_path, capsys):
    warehouse = tmp_path / "mini.duckdb"
    con = duckdb.connect(str(warehouse))
    con.execute("create schema dash")
    for name, frame in _tables().items():
        if name == "fct_radiomics":
            frame = frame.drop(columns=["mask_volume_mm3"])
        con.register("frame", frame)
        con.execute(f"create table dash.{name} as select * from frame")
        con.unregister("frame")
    con.close()
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(fake_manifest(schema="dash", catalog="mini")))
    rc = main(["dashboards", "build", "--out", str(tmp_path / "o"), "--manifest", str(manifest),
               "--warehouse", str(warehouse)])
    assert rc == 1 and "fct_radiomics.mask_volume_mm3 column not found" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # nothing half-written
