"""The `--target athena` path - GE's SQL datasource with table and query assets, the pushed-down identifier-shape
metric, the boolean share metric, the profile on SQL, reading marts through SQLAlchemy - end to end on SQLite
standing in for Athena, with the small pipeline's marts.

SQLite has no `regexp_like`; the test registers one (Python `re`, like Trino's Java regex for these patterns) on
every SQLite connection, which is the only difference from the SQL sent to Athena."""

from __future__ import annotations

import re
import sqlite3

import duckdb
import pytest
import sqlalchemy as sa
from gatekit import MARTS, copy_lake, copy_project, options

from mmhealth.features.publish import PublishOptions, publish
from mmhealth.quality.runner import run_check

FC = "features_cardiovascular"
GATED = ("patient_360", FC, "population_clinical", "population_genomic", "population_imaging")


def _regexp_like(value, pattern):
    return None if value is None else int(re.search(pattern, value) is not None)


@pytest.fixture()
def sqlite_athena(tmp_path, monkeypatch):
    def register(dbapi_conn, _record):
        if isinstance(dbapi_conn, sqlite3.Connection):
            dbapi_conn.create_function("regexp_like", 2, _regexp_like)

    sa.event.listen(sa.engine.Engine, "connect", register)
    url = f"sqlite:///{tmp_path / 'athena.db'}"
    monkeypatch.setenv("MMHEALTH_ATHENA_URL", url)
    yield url
    sa.event.remove(sa.engine.Engine, "connect", register)


def _marts(warehouse):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {m: con.sql(f"select * from {MARTS}.{m}").df() for m in GATED}


def _load(url, frames):
    engine = sa.create_engine(url)
    with engine.begin() as con:
        for name, df in frames.items():
            df.to_sql(name, con, index=False, if_exists="replace")
    engine.dispose()


def test_athena_target_passes_the_build_and_fails_identifiers_and_a_collapsed_label(
        sqlite_athena, baselined, small_pipeline, tmp_path):
    lake, proj, _ = baselined
    lake, proj = copy_lake(lake, tmp_path / "lake"), copy_project(tmp_path / "expectations", src=proj)
    frames = _marts(lake / "warehouse.duckdb")
    _load(sqlite_athena, frames)

    full = run_check(options(proj, lake, small_pipeline.manifest, target="athena"))
    assert full.success, full.failures
    assert full.marts[FC].validations == {"invariants": "passed", "profile": "passed", "deidentification": "passed",
                                          "integrity": "passed"}

    opts = options(proj, lake, small_pipeline.manifest, checkpoint="features_only", target="athena")
    assert run_check(opts).success
    report = publish(PublishOptions(to="local", lake=lake, checkpoint="features_only", target="athena",
                                    manifest=small_pipeline.manifest))
    assert report.written == len(frames[FC])

    bad = frames[FC].copy()
    bad["smoking_status"] = [f"555-{i % 1000:03d}-{i % 10000:04d}" for i in range(len(bad))]
    bad["hypertension"] = False
    _load(sqlite_athena, {FC: bad})
    failed = run_check(opts)
    checks = {f.check for f in failed.failures}
    assert {"deidentification", "profile:prevalence"} <= checks, failed.failures
    deid = next(f for f in failed.failures if f.check == "deidentification")
    assert "smoking_status: phone" in deid.observed
