"""`mmhealth quality check | baseline | compile` and `mmhealth features publish` through the CLI, on the small
pipeline's warehouse."""

from __future__ import annotations

import json

import pytest
from gatekit import MARTS, REPO, copy_lake, copy_project, sql

from mmhealth.cli import main

FC = "features_cardiovascular"


@pytest.fixture()
def cli_lake(small_pipeline, tmp_path, monkeypatch):
    """A private lake and project, found by the CLI through the environment as a user's shell would."""
    lake = copy_lake(small_pipeline.lake, tmp_path / "lake")
    proj = copy_project(tmp_path / "expectations", baseline=False)
    monkeypatch.setenv("MMHEALTH_LAKE", str(lake))
    monkeypatch.setenv("MMHEALTH_EXPECTATIONS", str(proj))
    common = ["--manifest", str(small_pipeline.manifest), "--dbt-project", str(REPO / "dbt_project.yml")]
    assert main(["quality", "compile", *common]) == 0
    return lake, proj, common


def test_baseline_then_check_passes_then_publish_local(cli_lake, small_pipeline, capsys):
    lake, proj, common = cli_lake
    errs = []

    def out():
        captured = capsys.readouterr()
        errs.append(captured.err)
        return captured.out

    assert main(["quality", "check", "--checkpoint", "features_only", "--no-docs", *common]) == 0
    assert "no baseline (expectations/baseline.yml): only invariants ran" in out()

    assert main(["quality", "baseline", *common]) == 0
    text = out()
    assert f"{FC}: " in text and "column bands" in text and "review the diff and commit it" in text
    assert (proj / "baseline.yml").exists() and (proj / "gx" / "expectations" / f"{FC}__profile.json").exists()

    assert main(["quality", "check", "--checkpoint", "features_only", *common]) == 0
    text = out()
    assert "PASSED" in text and "profile: passed" in text and "Data Docs:" in text

    assert main(["features", "publish", "--to", "local", "--checkpoint", "features_only",
                 "--manifest", str(small_pipeline.manifest)]) == 0
    assert "records written" in out()
    assert (lake / "feature_store" / "mmhealth-features-cardiovascular" / "v1" / "data.parquet").exists()
    # stderr here is not a terminal (a CI log): no progress bar redraws a line into it
    assert not any("\r" in e for e in errs), [e for e in errs if "\r" in e]


def test_failed_check_exits_1_with_a_table_and_publish_refuses(cli_lake, small_pipeline, capsys):
    lake, proj, common = cli_lake
    sql(lake, f"""update {MARTS}.{FC} set diastolic_bp_last = 5 where patient_key in (
                  select patient_key from {MARTS}.{FC} where diastolic_bp_last is not null limit 2)""")
    assert main(["quality", "check", "--checkpoint", "features_only", "--no-docs", *common]) == 1
    out = capsys.readouterr().out
    assert "failed expectation(s)" in out
    row = next(line for line in out.splitlines() if "diastolic_bp_last" in line)
    assert "range" in row and "2 unexpected" in row and "[30, 160]" in row

    assert main(["features", "publish", "--to", "local", "--checkpoint", "features_only"]) == 1
    err = capsys.readouterr().err
    assert "mmhealth features: error:" in err and "FAILED" in err


def test_check_json_output_and_a_missing_warehouse(cli_lake, tmp_path, capsys):
    lake, proj, common = cli_lake
    assert main(["quality", "check", "--lake", str(tmp_path / "nowhere"), *common]) == 1
    assert "warehouse.duckdb: dbt warehouse not found - run `dbt build`" in capsys.readouterr().err
    assert main(["quality", "check", "--json", "--no-docs", *common]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["success"] and set(result["marts"]) >= {FC, "patient_360"}


def test_check_without_a_manifest_runs_the_project_and_says_what_it_could_not_verify(cli_lake, tmp_path, capsys):
    lake, proj, common = cli_lake
    assert main(["quality", "check", "--checkpoint", "features_only", "--no-docs",
                 "--manifest", str(tmp_path / "none.json")]) == 0
    assert "the GE project was not re-checked against the dbt contracts" in capsys.readouterr().out


def test_compile_check_reports_stale_files(cli_lake, capsys):
    lake, proj, common = cli_lake
    assert main(["quality", "compile", "--check", *common]) == 0
    gate = proj / "gate.yml"
    gate.write_text(gate.read_text().replace("age_years: [0, 120]", "age_years: [0, 125]"))
    assert main(["quality", "compile", "--check", *common]) == 1
    assert "stale:" in capsys.readouterr().out
    assert main(["quality", "compile", *common]) == 0
    assert main(["quality", "compile", "--check", *common]) == 0


def test_every_quality_command_has_help(capsys):
    for action in ("check", "baseline", "compile"):
        with pytest.raises(SystemExit) as exit_:
            main(["quality", action, "--help"])
        assert exit_.value.code == 0
        assert "usage: mmhealth quality" in capsys.readouterr().out
