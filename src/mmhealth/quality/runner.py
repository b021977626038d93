"""`mmhealth quality check` and `baseline`: thin conveniences over running the GE project's checkpoints.

A check is what a plain GE user runs - `gx.get_context(project_root_dir=...).checkpoints.get(name).run()` - plus
what publishing needs around it: the project is first verified against its sources (gate.yml, dbt's manifest,
baseline.yml; stale -> refused), every mart is hashed before and after the run (a mart that changed in between is
refused, so the hash is of the data GE saw), and the outcome is written as JSON that `features publish` reads.

The checked-in project (`expectations/gx/`) is copied into `$MMHEALTH_LAKE/quality/project/gx/` for the run, so
validation results and Data Docs accumulate with the lake they describe and the repository stays clean.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

from mmhealth.errors import MMHealthError
from mmhealth.quality import baseline as bl
from mmhealth.quality.classification import is_withheld, withheld_columns
from mmhealth.quality.compile import (ATHENA_URL_ENV, GENERATED_DIRS, GX_DIR, LAKE_ENV, Sources, checkpoint_name,
                                      project_files, stale_files, validations_for)
from mmhealth.quality.contract import dbt_var, load_contracts
from mmhealth.paths import dbt_manifest, dbt_project_file, expectations_dir, quality_dir
from mmhealth.quality.data import athena_url, content_hash, read_marts
from mmhealth.quality.results import Failure, MartResult, RunResult, write_result
from mmhealth.quality.spec import GateSpec, load_spec



@dataclass(frozen=True)
class CheckOptions:
    project: Path  # the expectations/ folder: gate.yml, baseline.yml, gx/
    lake: Path
    checkpoint: str = "pre_feature_store"
    target: str = "local"
    manifest: Path | None = None  # dbt's manifest.json; default target/manifest.json
    dbt_project: Path | None = None  # dbt_project.yml (small_cell_threshold); default beside the project
    data_docs: bool = True

    @property
    def quality(self) -> Path:
        return quality_dir(self.lake)

    @property
    def manifest_path(self) -> Path:
        return self.manifest or dbt_manifest()

    @property
    def dbt_project_path(self) -> Path:
        """Given, else the one beside the project (a checkout), else the working directory's."""
        if self.dbt_project:
            return self.dbt_project
        beside = self.project.resolve().parent / "dbt_project.yml"
        return beside if beside.exists() else dbt_project_file()


def default_project() -> Path:
    """$MMHEALTH_EXPECTATIONS, else the project's expectations/ (mmhealth.paths), from any working directory."""
    return expectations_dir()


def load_sources(opts: CheckOptions, *, with_baseline: bool = True) -> Sources:
    spec = load_spec(opts.project / "gate.yml")
    contracts = load_contracts(opts.manifest_path, spec.marts)
    threshold = int(dbt_var(opts.dbt_project_path, "small_cell_threshold"))
    baseline = bl.load_baseline(opts.project / bl.FILENAME) if with_baseline else None
    _check_rule_columns(spec, contracts, opts)
    return Sources(spec, contracts, baseline, threshold)


def _check_rule_columns(spec: GateSpec, contracts, opts: CheckOptions) -> None:
    """Every column a hand-written rule names exists in the dbt contract."""
    where = opts.project / "gate.yml"
    for mart in spec.marts:
        rules, cols = spec.rules(mart), contracts[mart].columns
        named = [r.column for r in rules.ranges] + list(rules.small_cells)
        unknown = sorted(set(named) - set(cols))
        if unknown:
            raise MMHealthError(f"{where}: invariants.{mart} names {unknown}, not columns of the dbt model - "
                                "fix the names or the model")
    for r in spec.relationships:
        for mart, col in ((r.from_mart, r.from_column), (r.to_mart, r.to_column)):
            if col not in contracts[mart].columns:
                raise MMHealthError(f"{where}: relationships.{r.name}: {mart} has no column {col}")


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@contextmanager
def _lake_lock(quality: Path) -> Iterator[None]:
    """One gate run at a time per lake: runs share the GE working copy and `latest/`."""
    quality.mkdir(parents=True, exist_ok=True)
    with open(quality / ".lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise MMHealthError(f"{quality / '.lock'}: another quality check is running on this lake - "
                                "wait for it to finish") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def prepare_workdir(project: Path, workdir: Path) -> Path:
    """Fresh copy of the project's gx/ (generated files and plugins) under workdir, keeping its uncommitted/ history.
    Returns workdir, the project root GE is given."""
    src, dst = project / GX_DIR, workdir / GX_DIR
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src / "great_expectations.yml", dst / "great_expectations.yml")
    for d in (*GENERATED_DIRS, "plugins"):
        shutil.rmtree(dst / d, ignore_errors=True)
        shutil.copytree(src / d, dst / d, ignore=shutil.ignore_patterns("__pycache__"))
    return workdir


@contextmanager
def _gx_environment(lake: Path, target: str) -> Iterator[None]:
    """The variables great_expectations.yml reads: the lake (local) and the Athena URL."""
    saved = {k: os.environ.get(k) for k in (LAKE_ENV, ATHENA_URL_ENV)}
    os.environ[LAKE_ENV] = str(lake.resolve())
    if target == "athena":
        os.environ[ATHENA_URL_ENV] = athena_url()
    else:
        # Never used on a local run, but GE substitutes every variable of the file when it loads it.
        os.environ.setdefault(ATHENA_URL_ENV, "awsathena+rest://@athena.invalid:443/unused")
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_check(opts: CheckOptions, progress: Callable[[str], None] | None = None) -> RunResult:
    """Run the checkpoint on the lake's marts; write the JSON result and Data Docs."""
    with _lake_lock(opts.quality):
        return _run_check(opts, progress)


def _verify_project(opts: CheckOptions, notes: list[str]) -> Sources | None:
    """Refuse a GE project that does not match its sources; without a manifest, say what could not be checked."""
    if not opts.manifest_path.exists():
        notes.append(f"no dbt manifest at {opts.manifest_path}: the GE project was not re-checked against the dbt "
                     "contracts (run `dbt parse` or pass --manifest)")
        return None
    src = load_sources(opts)
    stale = stale_files(src, opts.project)
    if stale:
        raise MMHealthError(
            f"{opts.project / GX_DIR}: stale against gate.yml, the dbt manifest or baseline.yml ({', '.join(stale[:3])}"
            f"{'...' if len(stale) > 3 else ''}) - run `mmhealth quality compile`")
    if src.baseline is not None and src.baseline.tolerances != src.spec.profile:
        notes.append("baseline.yml's bands were made with other tolerances than gate.yml's `profile:` - run "
                     "`mmhealth quality baseline` on an accepted build to apply them")
    return src


def _run_check(opts: CheckOptions, progress: Callable[[str], None] | None) -> RunResult:
    notes: list[str] = []
    src = _verify_project(opts, notes)
    spec = src.spec if src else load_spec(opts.project / "gate.yml")
    baseline = src.baseline if src else bl.load_baseline(opts.project / bl.FILENAME)
    marts = spec.checkpoint(opts.checkpoint).marts
    started = _utcnow()
    run_id = f"{started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"

    frames = read_marts(opts.lake, opts.target, marts)
    hashes = {m: content_hash(df) for m, df in frames.items()}
    rows = {m: int(len(df)) for m, df in frames.items()}
    del frames
    # values of columns classified phi (or not classified) never reach the summary, only counts do
    withheld = withheld_columns(marts, opts.manifest_path, opts.project.resolve().parent / "models")
    run = _run_checkpoint(opts, run_id, started, progress, withheld)
    after = {m: content_hash(df) for m, df in read_marts(opts.lake, opts.target, marts).items()}
    moved = [m for m in marts if after[m] != hashes[m]]
    if moved:
        raise MMHealthError(f"{', '.join(moved)} changed while the gate ran (a dbt run wrote them) - run "
                            "`mmhealth quality check` again once the build is done")

    baseline_note = (f"profile compared with baseline.yml of {baseline.created} (lake {baseline.lake})"
                     if baseline else "no baseline (expectations/baseline.yml): only invariants ran - make one from "
                     "an accepted build with `mmhealth quality baseline` (docs/quality.md)")
    for m in marts:
        if baseline and not baseline.covers(m):
            run.status[m]["profile"] = "skipped (not in baseline.yml)"
        elif not baseline:
            run.status[m]["profile"] = "skipped (no baseline)"
    finished = _utcnow()
    results = {m: MartResult(m, rows[m], hashes[m], all(s != "failed" for s in run.status[m].values()),
                             run.status[m]) for m in marts}
    result = RunResult(
        run_id=run_id, checkpoint=opts.checkpoint, target=opts.target, started_at=started.isoformat(),
        finished_at=finished.isoformat(), success=all(r.success for r in results.values()), marts=results,
        failures=run.failures, evaluated=run.evaluated, data_docs=str(run.docs) if run.docs else None,
        baselines={"profile": baseline_note}, notes=notes,
    )
    write_result(opts.quality, result)
    return result


@dataclass
class _Outcome:
    status: dict[str, dict[str, str]]  # mart -> validation kind -> passed | failed | skipped (...)
    failures: list[Failure]
    evaluated: int
    docs: Path | None


def _run_checkpoint(opts: CheckOptions, run_id: str, started: datetime,
                    progress: Callable[[str], None] | None,
                    withheld: dict[str, frozenset[str] | None]) -> _Outcome:
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    spec = load_spec(opts.project / "gate.yml")
    workdir = prepare_workdir(opts.project, opts.quality / "project")
    with _gx_environment(opts.lake, opts.target):
        ctx = gx.get_context(mode="file", project_root_dir=str(workdir))
        checkpoint = ctx.checkpoints.get(checkpoint_name(opts.checkpoint, opts.target))
        if not opts.data_docs:
            checkpoint.actions = []
            checkpoint.save()  # in the lake's working copy, refreshed from the project on every run
        if progress:
            progress(f"{len(checkpoint.validation_definitions)} validations")
        result = checkpoint.run(run_id=RunIdentifier(run_name=run_id, run_time=started))
    marts = spec.checkpoint(opts.checkpoint).marts
    by_id = {vd.id: vd.name for vd in checkpoint.validation_definitions}
    out = _Outcome({m: {} for m in marts}, [], 0, None)
    for vr in result.run_results.values():
        v = _parse_validation(spec, by_id[vr.meta["validation_id"]])
        mart, kind = v
        previous = out.status[mart].get(kind)
        out.status[mart][kind] = "failed" if (previous == "failed" or not vr.success) else "passed"
        for er in vr.results:
            out.evaluated += 1
            if not er.success:
                out.failures.append(_failure(mart, vr.suite_name, er, withheld.get(mart)))
    if opts.data_docs:
        out.docs = _offline_docs(workdir)
    return out


def _parse_validation(spec: GateSpec, name: str) -> tuple[str, str]:
    """(mart, kind) of a validation definition from its name: `<target>__<mart>__<kind>` or
    `<target>__relationship__<name>` (reported against the relationship's `from` mart)."""
    _, first, last = name.split("__", 2)
    if first == "relationship":
        r = next((r for r in spec.relationships if r.name == last), None)
        if r is None:
            raise MMHealthError(f"validation definition {name}: no relationship {last} in gate.yml - run "
                                "`mmhealth quality compile`")
        return r.from_mart, "integrity"
    return first, last


# a type check reports the column's type, never a value
_TYPE_EXPECTATIONS = frozenset({"expect_column_values_to_be_of_type", "expect_column_values_to_be_in_type_list"})


def _failure(mart: str, suite: str, er, withheld: frozenset[str] | None = frozenset()) -> Failure:
    """One failed expectation as the summary shows it. For a column treated as PHI (`withheld`; None = every
    column) counts are reported, an observed value never is."""
    cfg = er.expectation_config
    kwargs = dict(cfg.kwargs)
    res = er.result or {}
    error = _exception_message(er.exception_info)
    columns = [kwargs["column"]] if kwargs.get("column") else list(kwargs.get("column_list") or [])
    if error:
        observed = f"error: {error[:120]}"
    elif "unexpected_count" in res and res.get("unexpected_count"):
        observed = f"{res['unexpected_count']} unexpected ({res.get('unexpected_percent', 0):.1f}%)"
    elif columns and cfg.type not in _TYPE_EXPECTATIONS and is_withheld(withheld, columns):
        observed = "withheld (phi column)"
    else:
        observed = _short(res.get("observed_value"))
    meta = cfg.meta or {}
    expected = _expected(cfg.type, kwargs, meta)
    column = kwargs.get("column") or (",".join(kwargs["column_list"]) if "column_list" in kwargs else None)
    return Failure(mart, suite, str(meta.get("check", "")), cfg.type, column, observed, expected)


def _exception_message(info) -> str | None:
    """GE reports an expectation's own error flat, and a failed metric's nested under the metric's id."""
    if not info:
        return None
    if info.get("raised_exception"):
        return str(info.get("exception_message"))
    for value in info.values():
        if isinstance(value, dict) and value.get("raised_exception"):
            return str(value.get("exception_message"))
    return None


def _expected(type_: str, kwargs: dict, meta: dict) -> str:
    if "column_types" in kwargs:
        return "types of the dbt contract"
    if "min_value" in kwargs or "max_value" in kwargs:
        lo, hi = kwargs.get("min_value"), kwargs.get("max_value")
        band = f"[{'-inf' if lo is None else _num(lo)}, {'inf' if hi is None else _num(hi)}]"
        if "baseline" in meta:
            return f"{band}, baseline {_num(meta.get('value'))} of {meta['baseline']}"
        return band
    if "value_set" in kwargs and kwargs["value_set"]:
        vs = kwargs["value_set"]
        return f"no value in {min(vs)}..{max(vs)} (small cells nulled)"
    if "column_set" in kwargs:
        return f"exactly the {len(kwargs['column_set'])} columns of the dbt contract"
    if "patterns" in kwargs:
        return "no identifier-like column names"
    if "shapes" in kwargs:
        return "no identifier-shaped values"
    if type_ == "expect_table_row_count_to_equal":
        return f"{kwargs.get('value')} rows ({meta.get('relationship', 'no orphans')})"
    if meta.get("source"):
        return meta["source"]
    return type_.removeprefix("expect_").replace("_", " ")


def _num(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _short(value, limit: int = 80) -> str:
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _offline_docs(workdir: Path) -> Path | None:
    from mmhealth.quality.datadocs import make_offline

    site = workdir / GX_DIR / "uncommitted" / "data_docs" / "local_site"
    if not (site / "index.html").exists():
        return None
    make_offline(site)
    return site / "index.html"


# --- baseline -------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BaselineReport:
    path: Path
    baseline: bl.Baseline
    changed: list[str]  # project files rewritten


def run_baseline(opts: CheckOptions, progress: Callable[[str], None] | None = None) -> BaselineReport:
    """Profile the lake's build into baseline.yml and recompile the project - only if the build passes every
    invariant (a baseline records an accepted build, never a broken one)."""
    with _lake_lock(opts.quality):
        src = load_sources(opts, with_baseline=False)
        failures = _invariant_failures(opts, src, progress)
        if failures:
            lines = "; ".join(f"{f.mart}.{f.column or '-'} {f.check}: {f.observed} (expected {f.expected})"
                              for f in failures[:5])
            raise MMHealthError(f"{opts.lake}: the build fails {len(failures)} invariant(s) - {lines} - fix the build "
                                "first: a baseline records an accepted build")
        if progress:
            progress("profile")
        frames = read_marts(opts.lake, opts.target, src.spec.marts)
        baseline = bl.make_baseline(frames, src.contracts, src.spec.profile,
                                    created=_utcnow().date().isoformat(), lake=Path(os.path.abspath(opts.lake)).name)
        path = opts.project / bl.FILENAME
        path.write_text(bl.to_yaml(baseline))
        from mmhealth.quality.compile import write_project

        changed = write_project(Sources(src.spec, src.contracts, bl.load_baseline(path), src.small_cell_threshold),
                                opts.project)
        return BaselineReport(path, baseline, changed)


def _invariant_failures(opts: CheckOptions, src: Sources, progress) -> list[Failure]:
    """Run every mart's invariants and relationships (no profile) on a scratch copy of the project."""
    import great_expectations as gx

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    workdir = prepare_workdir(opts.project, opts.quality / "baseline-project")
    invariants_only = Sources(src.spec, src.contracts, None, src.small_cell_threshold)
    gxdir = workdir / GX_DIR
    for d in GENERATED_DIRS:
        shutil.rmtree(gxdir / d, ignore_errors=True)
    for rel, content in project_files(invariants_only).items():
        (gxdir / rel).parent.mkdir(parents=True, exist_ok=True)
        (gxdir / rel).write_text(content)
    names = []
    for cp in src.spec.checkpoints:
        names += validations_for(invariants_only, cp, opts.target)
    failures: list[Failure] = []
    with _gx_environment(opts.lake, opts.target):
        ctx = gx.get_context(mode="file", project_root_dir=str(workdir))
        for v in {v.name: v for v in names}.values():
            if progress:
                progress(v.name)
            vr = ctx.validation_definitions.get(v.name).run(result_format={"result_format": "SUMMARY",
                                                                          "partial_unexpected_count": 5})
            failures += [_failure(v.mart, vr.suite_name, er) for er in vr.results if not er.success]
    return failures
