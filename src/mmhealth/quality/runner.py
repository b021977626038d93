"""Run a quality checkpoint: load the marts, fill in run-time bounds, let Great Expectations validate, record.

The checked-in GE project (`expectations/`) is copied into `$MMHEALTH_LAKE/quality/gx/` before each run, so
validation results and Data Docs accumulate with the lake they describe and the repository stays clean.

GE's pandas datasource takes its dataframe as a *run* parameter that `Checkpoint.run` shares with every
validation definition, so one checkpoint run cannot validate several marts. The runner therefore executes the
checkpoint's validation definitions itself, each with its mart's dataframe, the checkpoint's result format and
one run id (GE stores each result as a checkpoint run would), then renders Data Docs once for the run - GE's
per-validation docs action re-renders the index every time and dominated the run time. Drift validations of a mart
without an accepted baseline are left out and reported as skipped.
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
from typing import Callable

import pandas as pd

from mmhealth.errors import MMHealthError
from mmhealth.quality import baseline as bl
from mmhealth.quality.classification import DEFAULT_MANIFEST, is_withheld, withheld_columns
from mmhealth.quality.compile import GENERATED_DIRS, checkpoint_name, stale_files, validations_for
from mmhealth.quality.data import content_hash, quality_dir, read_marts
from mmhealth.quality.results import Failure, MartResult, RunResult, write_result
from mmhealth.quality.spec import load_spec


@dataclass(frozen=True)
class CheckOptions:
    project: Path
    lake: Path
    checkpoint: str = "pre_feature_store"
    target: str = "local"
    accept: bool = False
    baselines: Path | None = None
    data_docs: bool = True
    manifest: Path | None = None  # dbt manifest with meta.sensitivity (default target/manifest.json, else models/)
    models_dir: Path | None = None  # model YAML read when there is no manifest (default: beside the project)

    @property
    def quality(self) -> Path:
        return quality_dir(self.lake)

    @property
    def baseline_dir(self) -> Path:
        return self.baselines or self.quality / "baselines"


def default_project() -> Path:
    """`./expectations` when run from a checkout, else the one beside the installed package's repository."""
    env = os.environ.get("MMHEALTH_EXPECTATIONS")
    if env:
        return Path(env)
    here = Path("expectations")
    if (here / "gate.yml").exists():
        return here
    return Path(__file__).resolve().parents[3] / "expectations"


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def prepare_workdir(project: Path, workdir: Path) -> Path:
    """Fresh copy of the checked-in GE project into `workdir`, keeping its `uncommitted/` history."""
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(project / "great_expectations.yml", workdir / "great_expectations.yml")
    for d in GENERATED_DIRS:
        shutil.rmtree(workdir / d, ignore_errors=True)
        shutil.copytree(project / d, workdir / d)
    (workdir / "plugins").mkdir(exist_ok=True)
    return workdir


@contextmanager
def _lake_lock(quality: Path):
    """One check at a time per lake: runs share the GE working copy, the baselines and `latest/`."""
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


def run_check(opts: CheckOptions, frames: dict[str, pd.DataFrame] | None = None,
              progress: Callable[[str], None] | None = None) -> RunResult:
    """Validate the checkpoint's marts; write the JSON result and Data Docs; accept a drift baseline if due.

    `frames` (mart -> DataFrame) replaces reading the warehouse: the tests and the benchmark use it."""
    with _lake_lock(opts.quality):
        return _run_check(opts, frames, progress)


def _run_check(opts: CheckOptions, frames: dict[str, pd.DataFrame] | None,
               progress: Callable[[str], None] | None) -> RunResult:
    spec = load_spec(opts.project / "gate.yml")
    stale = stale_files(spec, opts.project)
    if stale:
        raise MMHealthError(
            f"{opts.project}: GE project is stale against gate.yml ({', '.join(stale[:3])}...) - "
            "run `mmhealth quality compile`"
        )
    marts = spec.checkpoint(opts.checkpoint).marts
    started = _utcnow()
    run_id = f"{started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
    if frames is None:
        frames = read_marts(opts.lake, opts.target, marts)
    missing = [m for m in marts if m not in frames]
    if missing:
        raise MMHealthError(f"marts {missing} not provided - build them with `dbt build`")
    hashes = {m: content_hash(frames[m]) for m in marts}
    baselines = {m: bl.load_baseline(opts.baseline_dir, spec.mart(m)) for m in marts if spec.mart(m).drift}
    params: dict[str, float] = {}
    for name in marts:
        params.update(bl.label_parameters(spec, spec.mart(name), frames[name]))
        if baselines.get(name) is not None:
            params.update(baselines[name].parameters())

    withheld = withheld_columns(marts, opts.manifest or DEFAULT_MANIFEST,
                                opts.models_dir or opts.project.resolve().parent / "models")
    run = _validate(opts, spec, frames, params, baselines, run_id, started, progress, withheld)
    finished = _utcnow()
    baseline_notes, notes = _settle_baselines(opts, spec, run, frames, hashes, baselines, run_id, finished)
    results = {
        m: MartResult(m, int(len(frames[m])), hashes[m], all(s != "failed" for s in run.status[m].values()),
                      run.status[m])
        for m in marts
    }
    result = RunResult(
        run_id=run_id, checkpoint=opts.checkpoint, target=opts.target, started_at=started.isoformat(),
        finished_at=finished.isoformat(), success=all(r.success for r in results.values()), marts=results,
        failures=run.failures, evaluated=run.evaluated, data_docs=str(run.docs) if run.docs else None,
        baselines=baseline_notes, notes=notes,
    )
    write_result(opts.quality, result)
    return result


@dataclass
class _Validation:
    status: dict[str, dict[str, str]]  # mart -> suite kind -> passed | failed | skipped (...) | accepted (...)
    failures: list[Failure]
    evaluated: int
    docs: Path | None


def _validate(opts: CheckOptions, spec, frames, params, baselines, run_id, started, progress,
              withheld: dict[str, frozenset[str] | None]) -> _Validation:
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    # Registers mmhealth's expectations with GE before the suites that use them are loaded.
    from mmhealth.quality import gx_deid, gx_schema, gx_share  # noqa: F401

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    workdir = prepare_workdir(opts.project, opts.quality / "gx")
    ctx = gx.get_context(mode="file", context_root_dir=str(workdir))
    checkpoint = ctx.checkpoints.get(checkpoint_name(opts.checkpoint, opts.target))
    definitions = {vd.name: vd for vd in checkpoint.validation_definitions}
    gx_run_id = RunIdentifier(run_name=run_id, run_time=started)
    marts = spec.checkpoint(opts.checkpoint).marts
    out = _Validation({m: {} for m in marts}, [], 0, None)
    suites_run: set[str] = set()
    for name in marts:
        if progress:
            progress(name)
        batch_parameters = {"dataframe": frames[name]} if opts.target == "local" else None
        for v in validations_for(spec, opts.checkpoint, opts.target):
            if v.mart != name:
                continue
            if v.kind == "drift" and baselines.get(name) is None:
                out.status[name]["drift"] = "skipped (no accepted baseline yet)"
                continue
            vr = definitions[v.name].run(checkpoint_id=checkpoint.id, batch_parameters=batch_parameters,
                                         expectation_parameters=params, result_format=checkpoint.result_format,
                                         run_id=gx_run_id)
            suites_run.add(v.suite)
            out.status[name][v.kind] = "passed" if vr.success else "failed"
            for er in vr.results:
                out.evaluated += 1
                if not er.success:
                    out.failures.append(_failure(name, v.suite, er, withheld.get(name)))
    if opts.data_docs:
        out.docs = _build_docs(ctx, workdir, run_id, suites_run)
    return out


def _settle_baselines(opts, spec, run: _Validation, frames, hashes, baselines, run_id, finished):
    """Accept this run as a mart's drift baseline when due; returns per-mart notes and general notes."""
    baseline_notes: dict[str, str] = {}
    notes: list[str] = []
    for name, current in baselines.items():
        mart = spec.mart(name)
        others_ok = all(s != "failed" for k, s in run.status[name].items() if k != "drift")
        if others_ok and (opts.accept or current is None):
            reason = "accepted with --accept" if opts.accept else "first passing run"
            new = bl.compute_baseline(frames[name], mart, spec.drift, run_id=run_id,
                                      accepted_at=finished.isoformat(), content_hash=hashes[name], reason=reason)
            bl.save_baseline(opts.baseline_dir, new)
            baseline_notes[name] = f"accepted this run ({reason})"
            if run.status[name].get("drift") == "failed":
                # An explicit accept supersedes drift against the previous baseline: this data *is* the baseline.
                run.status[name]["drift"] = "accepted (drift from previous baseline overridden by --accept)"
                run.failures[:] = [f for f in run.failures if not (f.mart == name and f.check == "drift")]
        elif current is not None:
            baseline_notes[name] = f"compared with run {current.run_id} ({current.reason}, {current.accepted_at})"
        else:
            baseline_notes[name] = "none: the gate failed, so this run was not accepted"
        if opts.accept and not others_ok:
            notes.append(f"{name}: not accepted as drift baseline because other suites failed")
    return baseline_notes, notes


# Their observed value is a column's SQL type, not data: shown whatever the column's classification.
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
    column = ",".join(columns) or None
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
        return "declared logical types"
    if "min_value" in kwargs or "max_value" in kwargs:
        lo, hi = kwargs.get("min_value"), kwargs.get("max_value")
        return f"[{'-inf' if lo is None else _num(lo)}, {'inf' if hi is None else _num(hi)}]"
    if "value_set" in kwargs and kwargs["value_set"]:
        vs = kwargs["value_set"]
        return f"no value in {min(vs)}..{max(vs)} (small cells nulled)"
    if "column_set" in kwargs:
        return f"exactly {len(kwargs['column_set'])} declared columns"
    if "patterns" in kwargs:
        return "no identifier-like column names"
    if "shapes" in kwargs:
        return "no identifier-shaped values"
    return type_.removeprefix("expect_").replace("_", " ")


def _num(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _short(value, limit: int = 80) -> str:
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _build_docs(ctx, workdir: Path, run_id: str, suites: set[str]) -> Path | None:
    """Render this run's validation pages, its suites and the index - not the whole history - then make the
    site work offline."""
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    from mmhealth.quality.datadocs import make_offline

    keys = [k for k in ctx.validation_results_store.list_keys() if k.run_id.run_name == run_id]
    keys += [ExpectationSuiteIdentifier(name=s) for s in sorted(suites)]
    ctx.build_data_docs(resource_identifiers=keys)
    site = workdir / "uncommitted" / "data_docs" / "local_site"
    if not (site / "index.html").exists():
        return None
    make_offline(site)
    return site / "index.html"
