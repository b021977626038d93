"""`mmhealth train`, `mmhealth predict`, `mmhealth serve`. Heavy imports stay inside the handlers."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path

from mmhealth import cli_options, paths, progress
from mmhealth.errors import MMHealthError


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train", help="baseline models per outcome x modality set, evaluated honestly",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  mmhealth train --out ml-runs/demo\n"
               "  mmhealth train --outcomes stroke --modalities clinical,clinical+imaging,all --repeats 5 "
               "--export sagemaker\n  mmhealth train --from sagemaker-offline --feature-group "
               "mmhealth-features-cardiovascular",
        description="Fit logistic regression, LightGBM and their stack for each outcome and modality set on the\n"
                    "published cardiovascular features; evaluate with repeated stratified 5-fold CV grouped by\n"
                    "patient (AUROC, AUPRC with bootstrap 95% CIs, Brier, prevalence baselines); write a run\n"
                    "folder with results.md/json, plots, importances, models and the data's provenance.")
    p.add_argument("--from", dest="source", choices=("local", "sagemaker-offline"), default="local",
                   help="where the published features are (default: local)")
    p.add_argument("--store", default=None,
                   help="local offline store: the store root, a feature group folder or one version folder "
                        "(default: $MMHEALTH_FEATURE_STORE, else $MMHEALTH_LAKE/feature_store, else "
                        "demo-lake/feature_store in the project)")
    p.add_argument("--feature-group", default="mmhealth-features-cardiovascular",
                   help="feature group name (default: mmhealth-features-cardiovascular, what features publish uses)")
    p.add_argument("--version", help="feature group version (local store; default: the newest)")
    cli_options.add_manifest(p, "dbt manifest whose column meta.modality maps features to modalities when the "
                                "definition does not (default: the project's target/manifest.json, if present)")
    cli_options.deprecated_option(p, "--dbt-manifest", "--manifest", "manifest")
    p.add_argument("--endpoint-url", help="AWS endpoint override for --from sagemaker-offline (testing)")
    p.add_argument("--outcomes", type=_csv, help="comma list (default: all four outcomes)")
    p.add_argument("--modalities", type=_csv,
                   help="comma list of modality sets: clinical, genomic, imaging, a combination such as "
                        "clinical+imaging, or all (= all three together). Default: every set")
    p.add_argument("--repeats", type=int, default=2, help="CV repeats with different seeds (default 2)")
    p.add_argument("--folds", type=int, default=5, help="CV folds (default 5)")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the CIs (default 1000)")
    p.add_argument("--trees", type=int, default=100, help="LightGBM trees (default 100)")
    cli_options.add_jobs(p, "LightGBM threads (default 1)", default=1)
    cli_options.deprecated_option(p, "--threads", "--jobs", "jobs", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="run folder (default: ml-runs/<UTC timestamp>)")
    p.add_argument("--export", choices=("sagemaker",),
                   help="also write RUN/sagemaker/model.tar.gz for SageMaker's scikit-learn container")
    p.add_argument("--export-modalities", default="all", help="modality set to export (default: all)")
    p.add_argument("--export-model-type", default="stacked", choices=("stacked", "logistic", "lightgbm"))
    cli_options.add_quiet(p)
    p.set_defaults(func=_train)

    p = subparsers.add_parser(
        "predict", help="score a Parquet or CSV file with a trained run",
        description="Batch scoring: read features (Parquet or CSV), validate them against the run's feature "
                    "schema, and write one probability per outcome per row.")
    _model_args(p)
    p.add_argument("--input", required=True, help="Parquet or CSV with the feature columns")
    p.add_argument("--out", required=True, help="output file (.parquet or .csv)")
    p.set_defaults(func=_predict)

    p = subparsers.add_parser(
        "serve", help="JSON scoring endpoint on 127.0.0.1",
        description="Serve a trained run over HTTP on loopback: POST /predict with one JSON record or a list "
                    "returns probabilities; GET /health and GET /schema describe the model.")
    _model_args(p)
    p.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (default 8080; 0 = any free)")
    p.add_argument("--verbose", action="store_true", help="log every request to stderr")
    p.set_defaults(func=_serve)


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="a run folder written by `mmhealth train`")
    p.add_argument("--modalities", default="all",
                   help="which modality set's models to use, e.g. clinical or clinical+imaging (default: all)")
    p.add_argument("--model-type", default="stacked", choices=("stacked", "logistic", "lightgbm"),
                   help="model family (default: stacked; the stack's fitted members serve the other two)")


def _note_missing(model, command: str) -> None:
    missing = model.spec.get("outcomes_without_model") or []
    if missing:
        print(f"{command}: note: the {'+'.join(model.spec['modalities'])} set has no model for "
              f"{', '.join(missing)} (too few cases among its patients); other --modalities have one",
              file=sys.stderr)


def _load(args):
    from mmhealth.ml import dataset

    if args.source == "local":
        manifest = Path(args.manifest) if args.manifest else paths.dbt_manifest()
        manifest = manifest if manifest.is_file() else None
        return dataset.load_local(args.store or str(paths.feature_store_dir()), args.feature_group, args.version,
                                  manifest=manifest)
    return dataset.load_sagemaker_offline(args.feature_group, endpoint_url=args.endpoint_url)


LABEL_DOCS = "docs/ml.md#labels-and-the-data-end"
BASELINE_DOCS = "docs/quality.md#the-baseline-of-a-deployment"


def _window_lines(data) -> list[str]:
    """What the label windows allow, said before any fitting."""
    from mmhealth.ml.train import unobserved_rows

    n = len(data.frame)
    unobserved = unobserved_rows(data)
    if unobserved is None:
        return ["train: note: the features have no label_window_observed column, so every label window is taken "
                f"as observed - republish features_cardiovascular from the current dbt project ({LABEL_DOCS})"]
    if not unobserved:
        return []
    lines = [f"train: {unobserved} of {n} rows have a label window the data does not reach (label_window_observed "
             f"false: a false label there means 'not seen yet') - left out of training and evaluation ({LABEL_DOCS})"]
    if unobserved == n:
        lines.append("train: no row has an observed label window: the data ends before any window closes - set "
                     f"extract_date / cv_index_cutoff_date for this extract or wait for more data ({LABEL_DOCS})")
    return lines


def _limits(cells) -> list[str]:
    """What this data cannot support, per outcome, with where to read why."""
    lines = []
    for outcome in dict.fromkeys(c.outcome for c in cells):
        mine = [c for c in cells if c.outcome == outcome]
        if all(c.status != "ok" for c in mine):
            best = max(mine, key=lambda c: c.n_rows)
            lines.append(f"train: {outcome}: no cell could be evaluated - {best.positives} positive(s) among "
                         f"{best.n_rows} usable rows at most ({best.status})")
    if lines:
        lines.append(f"train: how labels and their windows are placed: {LABEL_DOCS}; the label prevalence this "
                     f"deployment's gate expects is in its quality baseline (expectations/baseline.yml, {BASELINE_DOCS})")
    return lines


def _train(args) -> int:
    from mmhealth.ml.estimators import ModelParams
    from mmhealth.ml.run import train_run
    from mmhealth.ml.schema import OUTCOMES, modality_sets
    from mmhealth.ml.train import TrainConfig

    outcomes = tuple(args.outcomes or OUTCOMES)
    bad = [o for o in outcomes if o not in OUTCOMES]
    if bad:
        raise MMHealthError(f"--outcomes {bad[0]}: unknown outcome - choose from {', '.join(OUTCOMES)}")
    try:
        sets = tuple(modality_sets(args.modalities))
    except ValueError as exc:
        raise MMHealthError(f"--modalities: {exc}") from exc
    if args.repeats < 1 or args.folds < 2 or args.bootstrap < 1:
        raise MMHealthError("--repeats must be >= 1, --folds >= 2 and --bootstrap >= 1")
    data = _load(args)
    missing = [o for o in outcomes if o not in data.schema.labels]
    if missing:
        print(f"train: no label column for {', '.join(missing)} in the features; skipped", file=sys.stderr)
    config = TrainConfig(outcomes=outcomes, modality_sets=sets, folds=args.folds, repeats=args.repeats,
                         seed=args.seed, n_boot=args.bootstrap,
                         params=ModelParams(n_estimators=args.trees, threads=args.jobs))
    out = Path(args.out or f"ml-runs/{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}")
    for line in _window_lines(data):
        print(line)
    result = train_run(data, config, out, progress=progress.wanted(args.quiet))
    cells = result["cells"]
    ok = [c for c in cells if c.status == "ok"]
    print(f"train: {len(ok)} of {len(cells)} cells evaluated ({len(cells) - len(ok)} not evaluated, reasons in "
          f"results.md), {len(result['models'])} models saved, {result['run']['seconds']['total']} s")
    for line in _limits(cells):
        print(line)
    print(f"train: data {data.provenance.feature_group} version {data.provenance.version}, "
          f"{data.provenance.rows} rows, hash {data.provenance.data_hash[:16]}")
    if args.export == "sagemaker":
        from mmhealth.ml.bundle import export_sagemaker

        tar = export_sagemaker(out, out / "sagemaker" / "model.tar.gz", args.export_modalities,
                               args.export_model_type)
        print(f"train: SageMaker model archive {tar}")
    print(f"train: results in {out / 'results.md'}")
    return 0


def _predict(args) -> int:
    import pandas as pd

    from mmhealth.ml import inference
    from mmhealth.ml.bundle import open_model

    model = open_model(args.model, args.modalities, args.model_type)
    _note_missing(model, "predict")
    src, dst = Path(args.input), Path(args.out)
    if not src.is_file():
        raise MMHealthError(f"{src}: input file not found")
    if src.suffix.lower() in (".parquet", ".pq"):
        frame = pd.read_parquet(src)
    elif src.suffix.lower() == ".csv":
        frame = pd.read_csv(src)
    else:
        raise MMHealthError(f"{src}: unknown input format - use .parquet or .csv")
    if dst.suffix.lower() not in (".parquet", ".pq", ".csv"):
        raise MMHealthError(f"{dst}: unknown output format - use .parquet or .csv")
    try:
        inference.check_frame(frame, model.spec)
    except inference.InputError as exc:
        raise MMHealthError(f"{src}: {exc} - " + "; ".join(exc.errors)) from exc
    rows = inference.predict(model, frame)
    incomplete = sum(not r["complete_modalities"] for r in rows)
    if incomplete:
        print(f"predict: note: {incomplete} of {len(rows)} rows lack a modality of the "
              f"{'+'.join(model.spec['modalities'])} set (column complete_modalities = false): their missing "
              "features were imputed and the models never saw such patients", file=sys.stderr)
    out = pd.DataFrame([{**{k: v for k, v in r.items() if k != "probabilities"},
                         **{f"probability_{o}": p for o, p in r["probabilities"].items()}} for r in rows])
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.suffix.lower() == ".csv":
        out.to_csv(dst, index=False)
    else:
        out.to_parquet(dst, index=False)
    print(f"predict: read {len(frame)} rows, wrote {len(out)} rows x {len(model.estimators)} outcomes to {dst} "
          f"(models: {'+'.join(model.spec['modalities'])}, {model.spec['model_type']})")
    return 0


def _serve(args) -> int:
    from mmhealth.ml.bundle import open_model
    from mmhealth.ml.serve import make_server

    model = open_model(args.model, args.modalities, args.model_type)
    _note_missing(model, "serve")
    server = make_server(model, args.port, log=args.verbose)
    host, port = server.server_address[:2]
    print(f"serve: {'+'.join(model.spec['modalities'])} {model.spec['model_type']} models for "
          f"{', '.join(sorted(model.estimators))} on http://{host}:{port} (POST /predict, GET /health); "
          "Ctrl-C stops", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0
