"""The SQL-on-FHIR v2 test suite, run the way mmhealth runs views: each test file's `resources` are ingested by
mmhealth's own FHIR ingest into a scratch lake, each view is compiled against that lake and run there, and the rows
are compared as the suite says (`expect` as a multiset of rows, `expectCount`, `expectError`, `expectColumns`).
The report has the suite's test-report format (`_schema/test-report.schema.json`).

`engine="athena"` compiles every view to Athena SQL, checks that sqlglot parses it as Athena, transpiles it with
sqlglot to DuckDB and runs that on the same lake; a case passes when the transpiled query returns the expected
rows. Its `details` say which of those steps held, so the two counts (parsed, passed when transpiled) can be told
apart."""

from __future__ import annotations

import json
import math
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from mmhealth.errors import MMHealthError
from mmhealth.views.definition import parse_view
from mmhealth.views.runner import LakeViews, open_lake, run_compiled


@dataclass
class CaseResult:
    file: str
    name: str
    passed: bool
    error: str | None = None
    details: dict = field(default_factory=dict)
    tags: tuple[str, ...] = ()

    def to_report(self) -> dict:
        result: dict = {"passed": self.passed}
        if self.error:
            result["error"] = self.error
        if self.details:
            result["details"] = self.details
        return {"name": self.name, "result": result}


def _norm(v):
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, (int, float)):
        f = float(v)
        if math.isfinite(f) and f == int(f) and abs(f) < 2**53:
            return int(f)
        return round(f, 9)
    if isinstance(v, (list, tuple)):
        return [_norm(x) for x in v]
    if isinstance(v, dict):
        return {k: _norm(x) for k, x in v.items()}
    return str(v)


def _canon(row: dict) -> str:
    return json.dumps({k: _norm(v) for k, v in row.items()}, sort_keys=True)


def compare(test: dict, names: list[str], rows: list[tuple]) -> str | None:
    """None when the rows meet the test's expectations, else why not (one line)."""
    got = [dict(zip(names, r)) for r in rows]
    if "expectColumns" in test and names != test["expectColumns"]:
        return f"columns {names}, expected {test['expectColumns']}"
    if "expectCount" in test and len(got) != test["expectCount"]:
        return f"{len(got)} rows, expected {test['expectCount']}"
    if "expect" in test:
        want = sorted(_canon(r) for r in test["expect"])
        have = sorted(_canon(r) for r in got)
        if want != have:
            missing = [r for r in want if r not in have][:2]
            extra = [r for r in have if r not in want][:2]
            return f"{len(have)} rows, expected {len(want)}; missing {missing}; unexpected {extra}"
    return None


def _bundle(resources: list[dict], file_tag: str) -> dict:
    """The test resources as one transaction Bundle. A resource without an id gets the uuid of its entry's
    fullUrl, as a FHIR server (and mmhealth's ingest) assigns one on a transaction."""
    entries = []
    for i, r in enumerate(resources):
        e = {"resource": r}
        if not r.get("id"):
            e["fullUrl"] = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'mmhealth-conformance/{file_tag}/{i}')}"
        entries.append(e)
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _ingest(resources: list[dict], tag: str, work: Path) -> Path:
    from mmhealth.lake.ingest import run_ingest

    src = work / "source"
    src.mkdir(parents=True, exist_ok=True)
    (src / "resources.json").write_text(json.dumps(_bundle(resources, tag)))
    lake = work / "lake"
    report = run_ingest(src, str(lake), ["fhir"], {}, progress=False)
    fhir = report.modalities.get("fhir")
    if fhir is None or fhir.loaded != len(resources):
        raise MMHealthError(f"{tag}: ingest loaded {fhir.loaded if fhir else 0} of {len(resources)} test resources "
                            f"({fhir.quarantined if fhir else '?'} quarantined)")
    return lake


def _run_duckdb(con, views: LakeViews, test: dict) -> CaseResult:
    expect_error = bool(test.get("expectError"))
    try:
        view = parse_view(test["view"], name_hint=test.get("title", "view"))
        compiled = views.compile(view)
        names, rows = run_compiled(con, compiled)
    except Exception as e:  # a refused view or a query the engine stopped: both are errors to the suite
        if expect_error:
            return CaseResult("", test["title"], True, details={"refused": _one_line(e)})
        return CaseResult("", test["title"], False, _one_line(e))
    if expect_error:
        return CaseResult("", test["title"], False, f"expected an error, got {len(rows)} rows")
    why = compare(test, names, rows)
    return CaseResult("", test["title"], why is None, why)


def _run_athena(con, views: LakeViews, test: dict) -> CaseResult:
    import sqlglot

    expect_error = bool(test.get("expectError"))
    details: dict = {}
    try:
        view = parse_view(test["view"], name_hint=test.get("title", "view"))
        compiled = views.compile(view)
    except Exception as e:
        if expect_error:
            return CaseResult("", test["title"], True, details={"compiled": False, "refused": _one_line(e)})
        return CaseResult("", test["title"], False, _one_line(e), {"compiled": False})
    details["compiled"] = True
    try:
        sqlglot.parse_one(compiled.sql, read="athena")
        details["athena_parsed"] = True
    except Exception as e:
        details["athena_parsed"] = False
        return CaseResult("", test["title"], False, f"sqlglot cannot parse the Athena SQL: {_one_line(e)}", details)
    try:
        duck_sql = sqlglot.transpile(compiled.sql, read="athena", write="duckdb",
                                     unsupported_level=sqlglot.ErrorLevel.RAISE)[0]
        details["transpiled"] = True
    except Exception as e:
        details["transpiled"] = False
        return CaseResult("", test["title"], False, f"not transpilable to DuckDB: {_one_line(e)}", details)
    try:
        cur = con.execute(duck_sql)
        names = [c[0] for c in cur.description]
        rows = cur.fetchall()
    except Exception as e:
        details["transpiled_run"] = "error"
        if expect_error:
            return CaseResult("", test["title"], True, details={**details, "stopped": _one_line(e)})
        return CaseResult("", test["title"], False, f"transpiled query failed on DuckDB: {_one_line(e)}", details)
    details["transpiled_run"] = "rows"
    if expect_error:
        return CaseResult("", test["title"], False, f"expected an error, got {len(rows)} rows", details)
    why = compare(test, names, rows)
    return CaseResult("", test["title"], why is None, why, details)


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())[:500] or type(e).__name__


def run_suite(tests_dir: Path, engine: str = "duckdb", work: Path | None = None, progress=None) -> list[CaseResult]:
    """Every case of every test file in `tests_dir` (files whose JSON has `tests`)."""
    tests_dir = Path(tests_dir)
    files = sorted(p for p in tests_dir.glob("*.json") if p.is_file())
    if not files:
        raise MMHealthError(f"{tests_dir}: no test files (*.json) - point at the sql-on-fhir tests folder")
    if engine not in ("duckdb", "athena"):
        raise MMHealthError(f"--engine {engine}: choose duckdb or athena")
    own_work = work is None
    work = Path(work or tempfile.mkdtemp(prefix="mmhealth-sof-"))
    results: list[CaseResult] = []
    try:
        for path in files:
            try:
                suite = json.loads(path.read_text())
            except json.JSONDecodeError as e:
                raise MMHealthError(f"{path}: not JSON ({e})") from None
            if not isinstance(suite, dict) or not isinstance(suite.get("tests"), list):
                continue
            lake = _ingest(suite.get("resources") or [], path.stem, work / path.stem)
            con = open_lake(lake)
            try:
                views = LakeViews.of(con, engine)
                for test in suite["tests"]:
                    r = (_run_athena if engine == "athena" else _run_duckdb)(con, views, test)
                    r.file = path.name
                    r.tags = tuple(test.get("tags") or ())
                    results.append(r)
                    if progress:
                        progress(r)
            finally:
                con.close()
    finally:
        if own_work:
            shutil.rmtree(work, ignore_errors=True)
    return results


def report(results: list[CaseResult]) -> dict:
    out: dict = {}
    for r in results:
        out.setdefault(r.file, {"tests": []})["tests"].append(r.to_report())
    return out


def summary(results: list[CaseResult], engine: str) -> dict:
    shareable = [r for r in results if "experimental" not in r.tags]
    s = {"engine": engine, "cases": len(results), "passed": sum(r.passed for r in results),
         "shareable": len(shareable), "shareable_passed": sum(r.passed for r in shareable),
         "experimental": len(results) - len(shareable),
         "experimental_passed": sum(r.passed for r in results if "experimental" in r.tags)}
    if engine == "athena":
        s["athena_parsed"] = sum(1 for r in results if r.details.get("athena_parsed") or
                                 (r.passed and r.details.get("compiled") is False))
        s["compile_refused"] = sum(1 for r in results if r.details.get("compiled") is False)
        s["transpiled"] = sum(1 for r in results if r.details.get("transpiled"))
    return s
