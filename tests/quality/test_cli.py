"""`mmhealth quality check` and `mmhealth features publish` through the CLI, reading a real DuckDB warehouse."""

from __future__ import annotations

import json

import duckdb
import pytest

from mmhealth.cli import main

FC = "features_cardiovascular"


def write_warehouse(lake, frames, schema="main"):
    con = duckdb.connect(str(lake / "warehouse.duckdb"))
    try:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        for name, df in frames.items():
            con.register("frame", df)
            con.execute(f'CREATE OR REPLACE TABLE {schema}."{name}" AS SELECT * FROM frame')
            con.unregister("frame")
    finally:
        con.close()


@pytest.fixture()
def warehouse_lake(lake, frames, monkeypatch, project):
    write_warehouse(lake, frames)
    monkeypatch.setenv("MMHEALTH_LAKE", str(lake))
    monkeypatch.setenv("MMHEALTH_EXPECTATIONS", str(project))
    return lake


def test_check_passes_then_publish_local_through_the_cli(warehouse_lake, capsys):
    assert main(["quality", "check", "--checkpoint", "features_only"]) == 0
    out = capsys.readouterr().out
    assert "PASSED" in out and "Data Docs:" in out

    assert main(["features", "publish", "--to", "local", "--checkpoint", "features_only"]) == 0
    out = capsys.readouterr().out
    assert "records written 400, failed 0" in out
    assert (warehouse_lake / "feature_store" / "mmhealth-features-cardiovascular" / "v1" / "data.parquet").exists()


def test_failed_check_exits_1_with_a_table_and_publish_refuses(warehouse_lake, frames, capsys):
    bad = frames[FC].copy()
    bad.loc[[5, 6], "diastolic_bp_last"] = 5.0
    write_warehouse(warehouse_lake, {FC: bad})

    assert main(["quality", "check", "--checkpoint", "features_only"]) == 1
    out = capsys.readouterr().out
    assert "failed expectation(s)" in out
    row = next(line for line in out.splitlines() if "diastolic_bp_last" in line)
    assert "range" in row and "2 unexpected" in row and "[30, 160]" in row

    assert main(["features", "publish", "--to", "local", "--checkpoint", "features_only"]) == 1
    err = capsys.readouterr().err
    assert "mmhealth features: error:" in err and "FAILED" in err


def test_check_json_output_and_missing_warehouse(lake, monkeypatch, project, capsys, frames):
    monkeypatch.setenv("MMHEALTH_EXPECTATIONS", str(project))
    assert main(["quality", "check", "--lake", str(lake)]) == 1
    assert "warehouse.duckdb: dbt warehouse not found - run `dbt build`" in capsys.readouterr().err

    write_warehouse(lake, frames, schema="main_marts")
    assert main(["quality", "check", "--lake", str(lake), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["success"] and set(result["marts"]) == set(frames)


def test_compile_check_reports_stale_files(tmp_path, project, capsys):
    import shutil

    copy = tmp_path / "expectations"
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns("uncommitted"))
    assert main(["quality", "compile", "--check", "--project", str(copy)]) == 0
    gate = copy / "gate.yml"
    gate.write_text(gate.read_text().replace("small_cell_threshold: 11", "small_cell_threshold: 5"))
    assert main(["quality", "compile", "--check", "--project", str(copy)]) == 1
    assert "stale:" in capsys.readouterr().out
    assert main(["quality", "compile", "--project", str(copy)]) == 0
    assert main(["quality", "compile", "--check", "--project", str(copy)]) == 0
