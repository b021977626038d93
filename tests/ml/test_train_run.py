"""What `mmhealth train` leaves in the run folder."""

import csv
import json

import pandas as pd
import pytest

from mmhealth.cli import main
from mmhealth.ml.dataset import frame_hash


def test_results_cover_every_requested_cell(trained_run):
    results = json.loads((trained_run / "results.json").read_text())
    cells = {(r["outcome"], r["modalities"], r["population"]) for r in results["results"]}
    assert cells == {
        (o, m, p)
        for o in ("stroke", "alzheimers")
        for m, p in (("clinical", "has_set"), ("clinical", "all_three"), ("clinical+genomic+imaging", "has_set"))
    }
    for r in results["results"]:
        assert r["status"] == "ok"
        assert set(r["models"]) == {"logistic", "lightgbm", "stacked", "selected"}
        assert sum(r["selected_in_folds"].values()) == 5  # one nested choice per outer fold (1 repeat x 5 folds)
        assert set(r["oracle"]) == {"oracle"}  # the synthetic table's oracle has no per-set column
        for m in r["models"].values():
            lo, hi = m["auroc"]["ci95"]
            assert lo <= m["auroc"]["value"] <= hi
        assert r["baselines"]["auprc"] == pytest.approx(r["positives"] / r["n_rows"], abs=1e-4)
    # Like for like: the clinical set on the all-three population has exactly the all-three patients.
    by = {(r["outcome"], r["modalities"], r["population"]): r for r in results["results"]}
    assert by[("stroke", "clinical", "all_three")]["n_patients"] == \
        by[("stroke", "clinical+genomic+imaging", "has_set")]["n_patients"]
    assert by[("stroke", "clinical", "has_set")]["n_patients"] > by[("stroke", "clinical", "all_three")]["n_patients"]


def test_markdown_table_has_a_row_per_model_and_the_baselines(trained_run):
    md = (trained_run / "results.md").read_text()
    assert "## stroke" in md and "## alzheimers" in md
    rows = [line for line in md.splitlines() if line.startswith("| clinical")]
    assert len(rows) == 2 * 3 * 5  # outcomes x cells x (three families, the selected one, the oracle)
    assert "Brier of prevalence" in md and "AUPRC = prevalence" in md
    summary = md.split("## Summary", 1)[1].split("## Paired", 1)[0]
    assert len([line for line in summary.splitlines() if line.startswith("| stroke |")]) == 3
    paired = md.split("## Paired", 1)[1].split("## stroke", 1)[0]
    # all three over clinical alone on the all-three patients, per outcome, with a verdict
    assert len([line for line in paired.splitlines() if line.startswith("| stroke | clinical+genomic+imaging |")]) == 1


def test_provenance_names_the_feature_group_version_and_data_hash(trained_run, local_store):
    prov = json.loads((trained_run / "manifest.json").read_text())["provenance"]
    assert prov["feature_group"] == "mmhealth-features-cardiovascular" and prov["version"] == "1"
    version = local_store / "mmhealth-features-cardiovascular" / "v1"
    assert prov["store_hash"] == json.loads((version / "manifest.json").read_text())["content_hash"]
    published = pd.read_parquet(version / "data.parquet")
    assert prov["data_hash"] == frame_hash(published)
    assert prov["data_hash"] != frame_hash(published.iloc[1:])


def test_plots_are_plotly_html_with_intervals_n_and_cases(trained_run):
    plots = trained_run / "plots"
    assert (plots / "plotly.min.js").stat().st_size > 1_000_000  # written once beside the charts: no network to view
    names = ["auroc.html", "paired.html"] + [f"{k}_{o}.html" for k in ("roc", "calibration")
                                             for o in ("stroke", "alzheimers")]
    for name in names:
        html = (plots / name).read_text()
        assert 'src="plotly.min.js"' in html and "cdn.plot.ly" not in html, name
        assert "n=" in html and "cases" in html, name  # every panel and curve says its n and cases
    for name in ["auroc.html", "paired.html"] + [f"calibration_{o}.html" for o in ("stroke", "alzheimers")]:
        assert '"error_x"' in (plots / name).read_text() or '"error_y"' in (plots / name).read_text(), name
    assert not list(plots.glob("*.png"))


def test_importances_and_models(trained_run):
    with open(trained_run / "importances.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["model"] for r in rows} == {"logistic", "lightgbm", "stacked"}
    clinical_lr = {r["feature"] for r in rows if r["modalities"] == "clinical" and r["model"] == "logistic"}
    assert "clinical_age_years" in clinical_lr and not any(f.startswith("genomic_") for f in clinical_lr)
    manifest = json.loads((trained_run / "manifest.json").read_text())
    assert len(manifest["models"]) == 4
    for m in manifest["models"]:
        assert (trained_run / m["path"]).is_file()


def test_train_reports_a_missing_store_as_one_clear_error(tmp_path, capsys):
    assert main(["train", "--store", str(tmp_path / "nope"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "feature store not found" in err and "features publish --to local" in err


def test_unknown_modality_is_a_user_error(local_store, capsys):
    assert main(["train", "--store", str(local_store), "--modalities", "clinical+proteomic"]) == 1
    assert "unknown modality 'proteomic'" in capsys.readouterr().err
