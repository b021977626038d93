"""Fixtures for the ingest tests: a small generated data set (with corruptions) and lakes built from it and
from the shared real test files. Everything is session-scoped: each lake is built once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mmhealth.lake.ingest import run_ingest

MODALITIES = ["fhir", "genomics"]


def cli(*args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run `mmhealth` in a child process (how users run it; also what a kill -9 test needs)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "mmhealth.cli", *args], capture_output=True, text=True,
                          env=full_env, check=check, timeout=300)


@pytest.fixture(scope="session")
def generated(tmp_path_factory) -> Path:
    """40 patients, 10 genomes, no imaging, 2 corruptions of every kind (see corruptions.json)."""
    out = tmp_path_factory.mktemp("gen") / "data"
    cli("generate", "--out", str(out), "--patients", "40", "--genomes", "10", "--imaging", "0",
        "--corrupt", "2", "--quiet", "--jobs", "1")
    return out


@pytest.fixture(scope="session")
def corruptions(generated) -> list[dict]:
    return json.loads((generated / "corruptions.json").read_text())


@pytest.fixture(scope="session")
def generated_lake(generated, tmp_path_factory):
    lake = tmp_path_factory.mktemp("genlake") / "lake"
    report = run_ingest(generated, str(lake), MODALITIES, {"reference": generated / "reference" / "panel.fa"},
                        progress=False)
    return lake, report


@pytest.fixture(scope="session")
def testdata_lake(testdata, tmp_path_factory):
    lake = tmp_path_factory.mktemp("tdlake") / "lake"
    report = run_ingest(testdata, str(lake), MODALITIES, {}, progress=False)
    return lake, report


def connect(lake: Path):
    import duckdb

    return duckdb.connect(str(lake / "lake.duckdb"), read_only=True)


# Columns that say when or in which run something happened: they differ between two runs over the same input.
VOLATILE = {
    "lake_meta.ingest_log": ["run_id", "duration_s", "ingested_at"],
    "lake_meta.quarantine": ["run_id", "quarantined_at"],
    "lake_meta.skipped": ["run_id", "skipped_at"],
}


def content_hashes(lake: Path) -> dict[str, tuple[int, str]]:
    """(rows, order-independent hash of the rows) per table, ignoring run ids and timestamps."""
    con = connect(lake)
    try:
        tables = con.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables "
            "WHERE table_catalog = current_database() ORDER BY 1"
        ).fetchall()
        out = {}
        for (table,) in tables:
            drop = ", ".join(["lake_run"] + VOLATILE.get(table, []))
            n, h = con.execute(
                f"SELECT count(*), md5(coalesce(string_agg(h, ',' ORDER BY h), '')) FROM "
                f"(SELECT md5(CAST(t AS VARCHAR)) AS h FROM (SELECT * EXCLUDE ({drop}) FROM {table}) t)"
            ).fetchone()
            out[table] = (n, h)
        return out
    finally:
        con.close()
