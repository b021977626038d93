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
from mmhealth.dashboards.frames import default_patient, patient_entries, visual_frame
from mmhealth.dashboards.layout import NO_GENE, PATIENT, POPULATION, Field, PatientLabel, Visual
from mmhealth.dashboards.local import pages_for

from .pages import CHARTS, bar_heights, charts, patient_data, payload, render, section
from .fake_manifest import fake_manifest

SUPPRESSED_GENE_COUNT = 7  # what the suppressed cell would have been: it must never reach a page
RADIOMIC_VALUE = 38572408.2  # a radiomic feature value: shown as 38,572,408, not 38572408.200


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
            # 2017 has no rows at all (it must still be on the axis); the data end in mid-2019 (partial year).
            "encounter_year": pd.to_datetime(["2016-01-01", "2018-01-01", "2018-01-01", "2019-01-01",
                                              "2019-01-01"]).date,
            "encounter_class": ["AMB", "AMB", "EMER", "AMB", "EMER"],
            "encounter_count": [97, 120, 14, 61, None],
            "is_suppressed": [False, False, False, False, True],
            "is_partial_year": [False, False, False, True, True],
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
            # As in the demo: ClinVar records that name no gene, pooled per class, with more carriers than any
            # gene; every genotyped patient (150) carries both a benign and a likely benign one.
            "gene_symbol": ["APOE", "APOE", "LDLR", NO_GENE, NO_GENE, "LDLR"],
            "clinical_significance": ["pathogenic", "risk_factor", "likely_pathogenic", "benign", "likely_benign",
                                      "benign"],
            "significance_rank": [5, 0, 4, 1, 2, 1],
            "carrier_count": [33, 60, None, 150, 150, 90],
            "variant_count": [1, 1, None, 62, 40, 1],
            "is_suppressed": [True, True, True, False, False, False],
            **{f"carriers_with_{o}": [None, 12, None, 40, 40, 20] for o in ("stroke", "hypertension",
                                                                          "coronary_heart_disease", "alzheimers")},
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
            # pk-aaron sorts first but has clinical data only: the page must open on pk-alpha (all three).
            "patient_key": ["pk-alpha", "pk-bravo", "pk-charlie", "pk-aaron"],
            "gender": ["female", "male", "female", "male"],
            "age_years": [52, 71, 24, 93], "has_clinical": [True, True, True, True],
            "has_genomics": [True, True, False, False], "has_imaging": [True, False, False, False],
            "n_encounters": [12, 4, 1, 2], "apoe_genotype": ["e3/e4", "e3/e3", None, None],
            "n_pathogenic": [1, 0, None, None],
        }),
        "patient_timeline": pd.DataFrame({
            # pk-alpha has no event in 2017: the timeline's year axis must still show it.
            "patient_key": ["pk-alpha"] * 7 + ["pk-bravo"] * 2,
            "event_date": pd.to_datetime(["2015-03-01", "2015-03-01", "2016-07-09", "2016-08-01", "2019-01-02",
                                          "2018-03-01", "2016-08-01", "2012-05-05", "2020-02-02"]).date,
            "modality": ["clinical", "clinical", "clinical", "imaging", "genomic", "clinical", "imaging", "clinical",
                         "clinical"],
            "event_type": ["observation", "observation", "condition", "imaging_study", "genetic_report",
                           "observation", "radiomic_feature", "encounter", "encounter"],
            "code": ["8480-6", "8462-4", "59621000", None, None, "8480-6", "original_firstorder_energy", None, None],
            "description": ["Systolic blood pressure", "Diastolic blood pressure", "Hypertension", "MR brain",
                            "Genetic report", "Systolic blood pressure", "First-order energy", "Emergency visit",
                            "Checkup"],
            "value_numeric": [141.0, 92.0, None, None, None, 128.0, RADIOMIC_VALUE, None, None],
            "value_unit": ["mm[Hg]", "mm[Hg]", None, None, None, "mm[Hg]", None, None, None],
        }),
        "fct_variant_clinvar": pd.DataFrame({
            "patient_key": ["pk-alpha", "pk-bravo", "pk-alpha"], "gene_symbol": ["APOE", "LDLR", None],
            "rsid": ["rs429358", "rs1", None], "clinical_significance": ["risk_factor", "pathogenic", "benign"],
            "significance_rank": [0, 5, 1], "zygosity": ["heterozygous", "homozygous_alt", "heterozygous"],
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


SHARED_PLOTLY = re.compile(r'<script src="(plotly-[0-9.]+\.min\.js)"></script>')


def test_pages_share_one_plotly_and_stay_small(built):
    """plotly.js (about 4.7 MB) is one file beside the pages, not inlined in each: every page is small."""
    pages = sorted(built.glob("*.html"))
    expected = ["index.html", *[p.filename for p in pages_for((POPULATION, PATIENT))]]
    assert sorted(p.name for p in pages) == sorted(expected)
    plotly_files = {m.group(1) for p in pages if (m := SHARED_PLOTLY.search(p.read_text(encoding="utf-8")))}
    assert len(plotly_files) == 1, plotly_files  # one shared file, the same for every page
    plotly_js = built / plotly_files.pop()
    assert plotly_js.stat().st_size > 1_000_000 and "plotly" in plotly_js.read_text(encoding="utf-8")[:2000].lower()
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert len(text.encode()) < 200_000, f"{page.name}: {len(text.encode())} bytes"  # plotly alone is 4.8 MB
        assert not re.search(r"<(script|link)[^>]+(src|href)=\"(https?:)?//", text), f"{page.name} loads from the web"
        for ref in re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', text):
            assert ref.startswith("data:") or (built / ref).is_file(), f"{page.name} refers to {ref}, not written"
    patient_files = sorted((built / "patient-data").glob("*.js"))
    assert len(patient_files) == 4 and all(f.stat().st_size < 50_000 for f in patient_files)


def test_suppressed_counts_are_embedded_as_null_never_as_numbers(built):
    genomic = payload(built / "population-genomic.html")
    carriers = genomic["data"]["genomic-carriers-by-gene"]
    # Most carriers first (the visual's sort); the suppressed BRCA1 cell sorts last and stays NULL.
    assert carriers["gene"] == ["APOE", "LDLR", "BRCA1"]
    assert carriers["pathogenic_variant_carriers"] == [33, 12, None]
    assert genomic["minCell"] == 11


def test_patient_page_embeds_each_patients_rows_under_their_key(built):
    page = payload(built / "patient.html")
    assert page["data"] is None  # rows live in one small script per patient, loaded on demand
    keys = [p["key"] for p in page["patients"]]
    assert keys == ["pk-alpha", "pk-bravo", "pk-aaron", "pk-charlie"]  # most modalities first, then by key
    assert page["start"] == "pk-alpha"  # the first patient with clinical, genomic and imaging data
    alpha, bravo = patient_data(built, page, "pk-alpha"), patient_data(built, page, "pk-bravo")
    assert alpha["patient-variants"]["gene_symbol"] == ["(no gene)", "APOE"]  # benign (1) before risk factor (0)
    assert bravo["patient-variants"]["gene_symbol"] == ["LDLR"]
    assert alpha["patient-lesions"]["mask_volume_mm3"] == [1432.0] and "patient-lesions" not in bravo
    # The timeline chart is per year and modality, counted in Python the way QuickSight counts.
    timeline = alpha["patient-timeline"]
    assert list(zip(timeline["event_date"], timeline["modality"], timeline["event_type"])) == [
        ("2015", "clinical", 2), ("2016", "clinical", 1), ("2016", "imaging", 2), ("2018", "clinical", 1),
        ("2019", "genomic", 1)]
    assert alpha["patient-events"]["event_date"][0] == "2019-01-02"  # latest first, shown as a date
    # The blood-pressure chart keeps only its two LOINC codes, by day.
    bp = alpha["patient-blood-pressure"]
    assert sorted(zip(bp["event_date"], bp["description"], bp["value_numeric"])) == [
        ("2015-03-01", "Diastolic blood pressure", 92.0), ("2015-03-01", "Systolic blood pressure", 141.0),
        ("2018-03-01", "Systolic blood pressure", 128.0)]


def test_selector_labels_are_short_and_hold_no_phi(built):
    page = payload(built / "patient.html")
    labels = {p["key"]: p["label"] for p in page["patients"]}
    assert labels["pk-alpha"] == "pk-alpha · female, 52 · clinical+genomics+imaging"
    assert labels["pk-aaron"] == "pk-aaron · male, 90+ · clinical"  # ages over 89 are capped
    text = (built / "patient.html").read_text(encoding="utf-8")
    assert "2019-01-02" not in text and "Systolic" not in text  # no record reaches the page itself


def test_sum_of_a_group_with_a_suppressed_cell_stays_suppressed():
    visual = Visual("v", "t", "bar", "m", x=Field("sex"), values=(Field("n", "measure", "SUM", suppression="count"),))
    frame = pd.DataFrame({"sex": ["f", "f", "m", "m", None], "n": [12, None, 20, 15, 11]})
    out = visual_frame(visual, frame).set_index("sex")["n"]
    assert pd.isna(out["f"]) and out["m"] == 35 and out["unknown"] == 11


def test_key_prefixes_grow_until_they_tell_listed_patients_apart():
    rows = [("abcdef0123ff", "female", 40, True, False, True), ("abcdef0199ff", None, None, False, False, False),
            ("99aa", "male", 89, True, True, True)]
    entries = patient_entries(rows, PatientLabel())
    assert [e.label for e in entries] == ["abcdef012 · female, 40 · clinical+imaging",
                                          "abcdef019 · sex ?, age ? · no data",
                                          "99aa · male, 89 · clinical+genomics+imaging"]
    assert default_patient(entries, PatientLabel()) == "99aa"  # the first with every modality, not the first row
    assert default_patient(entries[:2], PatientLabel()) == "abcdef0123ff"  # none has all three: the first listed


def test_outcome_table_puts_pathogenic_first_and_names_gene_less_rows(built):
    table = payload(built / "population-genomic.html")["data"]["genomic-carriers-with-outcomes"]
    assert list(zip(table["gene_symbol"], table["clinical_significance"])) == [
        ("APOE", "pathogenic"), ("LDLR", "likely_pathogenic"), (NO_GENE, "likely_benign"), (NO_GENE, "benign"),
        ("LDLR", "benign"), ("APOE", "risk_factor")]  # ClinVar rank first, then carriers - not carriers alone


def test_significance_chart_groups_classes_and_leaves_gene_less_records_out(built):
    chart = payload(built / "population-genomic.html")["data"]["genomic-significance-by-gene"]
    assert NO_GENE not in chart["gene_symbol"]
    assert chart["_order"] == [["APOE", "LDLR"], ["pathogenic", "likely_pathogenic", "benign", "risk_factor"]]


@pytest.fixture(scope="module")
def rendered(built) -> dict[str, object]:
    """Each page rendered once in headless Chromium, with what plotly drew (the patient page as it opens)."""
    return {page.filename: render((built / page.filename).as_uri(), built / f"{Path(page.filename).stem}.png",
                                  script=CHARTS)
            for page in pages_for((POPULATION, PATIENT))}


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
    assert '<td class="suppressed num">&lt;11</td>' in dom  # modality coverage table, imaging cell
    bars = dom[dom.index('id="v-genomic-carriers-by-gene"'):]
    bars = bars[:bars.index("</section>")]
    assert "&lt;11" in bars  # the BRCA1 bar is labelled <11
    assert f">{SUPPRESSED_GENE_COUNT}<" not in bars
    clinical = rendered["population-clinical.html"].dom
    diagnoses = section(clinical, "clinical-diagnoses")
    assert "Essential hypertension" in diagnoses and "Medication reconciliation" not in diagnoses  # section filter
    assert diagnoses.count("&lt;11") == 2  # the stroke row: both counts suppressed
    encounters = section(clinical, "clinical-encounters-by-year")
    assert "&lt;11 (suppressed)" in encounters  # the suppressed 2019 EMER point, as a marker in its own series
    prevalence = section(clinical, "clinical-outcome-prevalence")
    assert "suppressed" in prevalence  # a nulled ratio says so, it is not drawn as 0
    imaging = section(rendered["population-imaging.html"].dom, "imaging-feature-distributions")
    rows = re.findall(r"<tr>(.*?)</tr>", imaging)
    ct = next(r for r in rows if "CT" in r)
    contrast = next(r for r in rows if "original_glcm_contrast" in r)
    assert ct.count(">suppressed<") == 4 and "&lt;11" in ct
    assert "suppressed" not in contrast and "&lt;11" not in contrast  # missing data is not suppression


def test_choosing_another_patient_changes_the_visuals(built, rendered):
    alpha = rendered["patient.html"]
    bravo = render((built / "patient.html").as_uri() + "?patient=pk-b", built / "patient-bravo.png")  # a key prefix
    assert 'data-patient="pk-alpha"' in alpha.dom and 'data-patient="pk-bravo"' in bravo.dom
    assert bravo.console == [] and bravo.page_errors == "[]"
    for visual in PATIENT.visuals():
        assert section(alpha.dom, visual.id) != section(bravo.dom, visual.id), f"{visual.id} did not change"
    assert "APOE" in section(alpha.dom, "patient-variants") and "LDLR" in section(bravo.dom, "patient-variants")
    assert "imgset-0001" in section(alpha.dom, "patient-lesions")
    assert "No data." in section(bravo.dom, "patient-lesions")
    assert alpha.screenshot.read_bytes() != bravo.screenshot.read_bytes()


def test_genomic_bars_never_exceed_the_genotyped_patients(rendered):
    """Distinct-carrier counts per class overlap: stacking them once drew 300 carriers for 150 genotyped
    patients. Grouped bars, and the pooled gene-less records out of the per-gene chart, keep every bar honest."""
    genotyped = 150  # sq_modality_coverage.patients_with_genomics
    drawn = charts(rendered["population-genomic.html"])
    assert drawn["genomic-significance-by-gene"]["barmode"] == "group"
    for chart_id in ("genomic-carriers-by-gene", "genomic-significance-by-gene"):
        heights = bar_heights(drawn[chart_id])
        assert heights and max(heights.values()) <= genotyped, (chart_id, heights)
    assert NO_GENE not in bar_heights(drawn["genomic-significance-by-gene"])
    table = section(rendered["population-genomic.html"].dom, "genomic-carriers-with-outcomes")
    first = re.search(r"<tbody><tr>(.*?)</tr>", table).group(1)
    assert re.findall(r"<td[^>]*>(.*?)</td>", first)[:2] == ["APOE", "pathogenic"]
    assert NO_GENE in table  # gene-less records, labelled as such


def test_patient_page_opens_on_a_patient_with_every_modality(rendered):
    dom = rendered["patient.html"].dom
    assert 'data-patient="pk-alpha"' in dom  # not pk-aaron, who sorts first but has clinical data only
    options = re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', dom)
    assert [k for k, _ in options] == ["pk-alpha", "pk-bravo", "pk-aaron", "pk-charlie"]
    assert options[0][1] == "pk-alpha · female, 52 · clinical+genomics+imaging"


def test_search_narrows_the_selector_by_label(built):
    search = """(() => {
      const s = document.getElementById('patient-search');
      s.value = 'male 71'; s.dispatchEvent(new Event('input'));
      const sel = document.getElementById('patient');
      return {value: sel.value, options: [...sel.options].map((o) => o.textContent),
              count: document.getElementById('patient-count').textContent};
    })()"""
    result = render((built / "patient.html").as_uri(), built / "patient-search.png", script=search)
    assert result.value == {"value": "pk-bravo", "options": ["pk-bravo · male, 71 · clinical+genomics"],
                            "count": "1 of 4 patients"}
    assert result.page_errors == "[]"


def test_time_axes_are_continuous_and_the_partial_year_is_marked(rendered):
    clinical = charts(rendered["population-clinical.html"])["clinical-encounters-by-year"]
    amb = next(t for t in clinical["traces"] if t["name"] == "AMB")
    assert amb["x"] == ["2016", "2017", "2018", "2019"] and amb["y"][1] == 0  # 2017 had no encounters: zero
    assert clinical["annotations"] == ["partial year"]  # 2019: the data end mid-year
    assert amb["symbols"][-1] == "circle-open" and set(amb["symbols"][:-1]) == {"circle"}
    timeline = charts(rendered["patient.html"])["patient-timeline"]
    clinical_events = next(t for t in timeline["traces"] if t["name"] == "clinical")
    assert clinical_events["x"] == ["2015", "2016", "2017", "2018", "2019"]  # 2017: no events, still on the axis
    assert clinical_events["y"] == [2, 1, 0, 1, 0]


def test_numbers_are_formatted(rendered):
    events = section(rendered["patient.html"].dom, "patient-events")
    assert ">38,572,408<" in events and "38572408" not in events
    assert ">141<" in events  # a whole number stays whole, no .000
    prevalence = charts(rendered["population-clinical.html"])["clinical-outcome-prevalence"]
    stroke = next(t for t in prevalence["traces"] if t["name"] == "Stroke")
    assert stroke["text"][0] == "12.0%"


def test_site_works_from_a_local_web_server(built, tmp_path):
    """The same files served over http (127.0.0.1): the shared scripts and a patient's data script load."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):  # keep the test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(built)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        patient = render(f"{base}/patient.html?patient=pk-bravo", tmp_path / "http-patient.png")
        genomic = render(f"{base}/population-genomic.html", tmp_path / "http-genomic.png")
    finally:
        server.shutdown()
        server.server_close()
    for page in (patient, genomic):
        assert page.console == [] and page.page_errors == "[]"
    assert 'data-patient="pk-bravo"' in patient.dom and "LDLR" in section(patient.dom, "patient-variants")
    assert '<svg class="main-svg"' in section(genomic.dom, "genomic-significance-by-gene")


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
