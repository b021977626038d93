"""The `--target athena` path - GE's SQL datasource, the pushed-down identifier-shape metric, the boolean share
metric and reading marts through SQLAlchemy - run end to end on SQLite standing in for Athena.

SQLite has no `regexp_like`; the test registers one (Python `re`, like Trino's Java regex for these patterns) on
every SQLite connection, which is the only difference from the SQL sent to Athena."""

from __future__ import annotations

import re
import sqlite3

import pytest
import sqlalchemy as sa

from mmhealth.features.publish import PublishOptions, publish
from mmhealth.quality.runner import CheckOptions, run_check

FC = "features_cardiovascular"


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


def _load(url, frames):
    engine = sa.create_engine(url)
    with engine.begin() as con:
        for name, df in frames.items():
            df.to_sql(name, con, index=False, if_exists="replace")
    engine.dispose()


def test_athena_target_passes_clean_marts_and_fails_identifiers(sqlite_athena, project, lake, frames):
    _load(sqlite_athena, frames)
    full = CheckOptions(project=project, lake=lake, target="athena", data_docs=False)
    assert run_check(full).success  # every mart, first pass: drift baselines accepted
    second = run_check(full)
    assert second.success, second.failures
    assert second.marts[FC].validations == {"contract": "passed", "deidentification": "passed", "drift": "passed"}

    opts = CheckOptions(project=project, lake=lake, checkpoint="features_only", target="athena", data_docs=False)
    assert run_check(opts).success
    report = publish(PublishOptions(to="local", lake=lake, checkpoint="features_only", target="athena"))
    assert report.written == len(frames[FC])

    bad = frames[FC].copy()
    bad["smoking_status"] = [f"555-{i % 1000:03d}-{i % 10000:04d}" for i in range(len(bad))]
    bad["hypertension"] = False
    _load(sqlite_athena, {FC: bad})
    failed = run_check(opts)
    checks = {f.check for f in failed.failures}
    assert {"deidentification", "label_prevalence"} <= checks, failed.failures
    deid = next(f for f in failed.failures if f.check == "deidentification")
    assert "smoking_status: phone" in deid.observed
