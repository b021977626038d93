"""sqlfluff (Athena dialect, .sqlfluff) is clean on the models, and the engine-difference rules hold: every
dispatching macro has a duckdb__ and an athena__ implementation, a lint stand-in and a literal test case."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DISPATCH = REPO / "macros" / "engine" / "dispatch.sql"


def dispatching_macros() -> list[str]:
    return re.findall(r"\{% macro (\w+)\([^)]*\) %\}\{\{ return\(adapter\.dispatch\(", DISPATCH.read_text())


def test_sqlfluff_is_clean(background_checks):
    rc, log = background_checks["sqlfluff"].wait()
    assert rc == 0, log[-6000:]
    assert "All Finished" in log


def test_every_engine_macro_has_both_implementations_a_standin_and_a_case():
    names = dispatching_macros()
    assert len(names) >= 10
    source = DISPATCH.read_text()
    standins = (REPO / "tests" / "dbt" / "lint" / "macros" / "dispatch_standins.sql").read_text()
    cases = (REPO / "tests" / "dbt" / "data_tests" / "engine_macros_behave.sql").read_text()
    for name in names:
        assert f"macro duckdb__{name}(" in source, name
        assert f"macro athena__{name}(" in source, name
        assert f"{{{{ athena__{name}(" in standins, f"lint stand-in missing for {name}"
        # mmh_timestamp_type is exercised through mmh_cast; mmh_catalog_readable by the builds themselves (DuckDB)
        # and by the Athena compile without AWS (tests/dbt/test_athena.py)
        if name not in ("mmh_timestamp_type", "mmh_catalog_readable"):
            assert f"{name}(" in cases, f"no literal test case for {name}"


def test_models_never_branch_on_the_engine():
    offenders = [p for p in (REPO / "models").rglob("*.sql") if "target.type" in p.read_text()]
    assert offenders == []


def test_every_dispatched_macro_resolves_on_both_engines():
    """Anywhere under macros/: adapter.dispatch finds duckdb__ and athena__ implementations, or a default__ both
    share. In dispatch.sql itself there is no default__ (its header says so: each engine states its own form)."""
    sources = {p: p.read_text() for p in (REPO / "macros").rglob("*.sql")}
    every = "\n".join(sources.values())
    dispatched = {name for text in sources.values()
                  for name in re.findall(r"adapter\.dispatch\('(\w+)', 'mmhealth'\)", text)}
    assert set(dispatching_macros()) <= dispatched and "mmh_try_cast" in dispatched
    for name in dispatched:
        both = f"macro duckdb__{name}(" in every and f"macro athena__{name}(" in every
        assert both or f"macro default__{name}(" in every, f"{name} has no implementation for one engine"
    assert "macro default__" not in DISPATCH.read_text()
