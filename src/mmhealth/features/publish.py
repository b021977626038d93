"""`features publish`: gate check, definition, then the local store or SageMaker Feature Store."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from mmhealth.errors import MMHealthError
from mmhealth.features.definition import definition_from_frame, prepare_frame, records
from mmhealth.paths import dbt_manifest, feature_store_dir, in_project, quality_dir
from mmhealth.quality.data import content_hash, read_marts
from mmhealth.quality.results import require_passed


@dataclass(frozen=True)
class PublishOptions:
    to: str  # local | sagemaker
    lake: Path
    mart: str = "features_cardiovascular"
    feature_group: str | None = None
    role_arn: str | None = None
    offline_store: str | None = None
    checkpoint: str = "pre_feature_store"
    target: str = "local"
    max_workers: int = 4
    batch_size: int = 500
    region: str | None = None
    endpoint_url: str | None = None
    store_root: Path | None = None
    include_phi: bool = False
    manifest: Path | None = None  # dbt manifest with meta.sensitivity; default target/manifest.json
    models_dir: Path | None = None  # fallback: the dbt model YAML; default models/ beside expectations/

    @property
    def group(self) -> str:
        return self.feature_group or f"mmhealth-{self.mart.replace('_', '-')}"


@dataclass
class PublishReport:
    to: str
    group: str
    rows: int
    quality_run_id: str
    written: int = 0
    failed: int = 0
    retries: int = 0
    version: int | None = None
    path: str | None = None
    group_action: str | None = None
    errors: list = field(default_factory=list)
    excluded: list = field(default_factory=list)  # PHI columns left in the lake
    seconds: float = 0.0


def publish(opts: PublishOptions, frame: pd.DataFrame | None = None, *, sagemaker_client=None,
            runtime_client=None, progress: Callable[[int], None] | None = None) -> PublishReport:
    import time

    t0 = time.perf_counter()
    if opts.to not in ("local", "sagemaker"):
        raise MMHealthError(f"--to {opts.to!r}: use local or sagemaker")
    if frame is None:
        frame = read_marts(opts.lake, opts.target, [opts.mart])[opts.mart]
    digest = content_hash(frame)
    gate = require_passed(quality_dir(opts.lake), opts.checkpoint, opts.target, opts.mart, digest)
    excluded: list[str] = []
    if not opts.include_phi:
        excluded = _phi_to_exclude(opts, list(frame.columns))
        frame = frame.drop(columns=excluded)
    prepared = prepare_frame(frame, event_time=gate.finished_at)
    definition = definition_from_frame(
        prepared, opts.group,
        # No run id here: each gate run has a new one, and the definition is part of what makes a new version.
        # The run that gated a version is in its manifest.json (quality_run_id).
        description=f"{opts.mart} from mmhealth, gated by quality checkpoint {opts.checkpoint}",
    )
    report = PublishReport(opts.to, opts.group, int(len(prepared)), gate.run_id, excluded=excluded)
    if opts.to == "local":
        from mmhealth.features.local_store import publish_local

        root = opts.store_root or feature_store_dir(opts.lake)
        result = publish_local(prepared, definition, root, content_hash=digest, quality_run_id=gate.run_id,
                               source=opts.mart)
        report.version, report.path = result.version, str(result.path)
        report.written = result.rows if result.written else 0
        report.group_action = f"v{result.version} written" if result.written else f"v{result.version} unchanged"
        if progress:
            progress(len(prepared))
    else:
        from mmhealth.features import sagemaker as fs  # (its runtime_client() would be shadowed by the argument)

        sm, rt = sagemaker_client, runtime_client
        if sm is None or rt is None:
            import boto3

            session = boto3.session.Session(region_name=opts.region)
            sm = sm or session.client("sagemaker", endpoint_url=opts.endpoint_url)
            rt = rt or fs.runtime_client(session, endpoint_url=opts.endpoint_url, max_workers=opts.max_workers)
        change = fs.ensure_feature_group(sm, definition, role_arn=opts.role_arn, offline_store=opts.offline_store)
        report.group_action = change.action + (f" (+{', '.join(change.added)})" if change.added else "")
        ing = fs.ingest(rt, definition.name, records(prepared, definition), max_workers=opts.max_workers,
                        batch_size=opts.batch_size, progress=progress)
        report.written, report.failed, report.retries, report.errors = ing.written, ing.failed, ing.retries, ing.errors
    report.seconds = time.perf_counter() - t0
    return report


def _phi_to_exclude(opts: PublishOptions, columns: list[str]) -> list[str]:
    from mmhealth.features.definition import RECORD_ID
    from mmhealth.features.sensitivity import column_sensitivity, phi_columns

    manifest = opts.manifest or dbt_manifest()
    models_dir = opts.models_dir or in_project("models")
    drop = phi_columns(columns, column_sensitivity(opts.mart, manifest, models_dir))
    if RECORD_ID in drop:
        raise MMHealthError(f"{opts.mart}.{RECORD_ID} is classified phi or not classified - the record identifier "
                            "must be the pseudonymous key (meta.sensitivity: internal)")
    return drop
