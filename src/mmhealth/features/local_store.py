"""A versioned local offline store: `<root>/<group>/v<N>/` with the data as Parquet and the definition as JSON.

Each publish of new content is a new version, written to a temporary folder and renamed into place, so a reader
never sees half a version; publishing content identical to the latest version writes nothing. pandas reads a
version with `pd.read_parquet(<root>/<group>/v<N>/data.parquet)` or `read_version(...)`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from mmhealth.errors import MMHealthError
from mmhealth.features.definition import FeatureGroupDefinition

_VERSION = re.compile(r"^v(\d+)$")


@dataclass(frozen=True)
class LocalPublish:
    group: str
    version: int
    path: Path
    rows: int
    written: bool  # False when the latest version already held this content


def versions(root: Path, group: str) -> list[int]:
    d = root / group
    if not d.is_dir():
        return []
    return sorted(int(m.group(1)) for p in d.iterdir() if p.is_dir() and (m := _VERSION.match(p.name)))


def read_manifest(root: Path, group: str, version: int) -> dict:
    return json.loads((root / group / f"v{version}" / "manifest.json").read_text())


def _schema(d: FeatureGroupDefinition) -> tuple:
    return d.name, d.record_identifier, d.event_time, tuple(d.features)


def publish_local(frame: pd.DataFrame, definition: FeatureGroupDefinition, root: Path, *,
                  content_hash: str, quality_run_id: str, source: str) -> LocalPublish:
    group_dir = root / definition.name
    existing = versions(root, definition.name)
    if existing:
        latest = existing[-1]
        manifest = read_manifest(root, definition.name, latest)
        held = FeatureGroupDefinition.from_json((group_dir / f"v{latest}" / "feature_group.json").read_text())
        same_def = _schema(held) == _schema(definition)  # the description is prose, not content
        if manifest.get("content_hash") == content_hash and same_def:
            return LocalPublish(definition.name, latest, group_dir / f"v{latest}", int(manifest["rows"]), False)
    version = (existing[-1] + 1) if existing else 1
    group_dir.mkdir(parents=True, exist_ok=True)
    tmp = group_dir / f".v{version}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        frame.to_parquet(tmp / "data.parquet", index=False, compression="zstd")
        (tmp / "feature_group.json").write_text(definition.to_json())
        (tmp / "manifest.json").write_text(json.dumps({
            "feature_group": definition.name,
            "version": version,
            "rows": int(len(frame)),
            "content_hash": content_hash,
            "quality_run_id": quality_run_id,
            "source": source,
            "published_at": datetime.now(timezone.utc).isoformat(),
        }, indent=2) + "\n")
        final = group_dir / f"v{version}"
        try:
            os.rename(tmp, final)
        except OSError as exc:
            raise MMHealthError(f"{final}: could not publish version {version} ({exc}) - "
                                "another publish may be running; retry")
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return LocalPublish(definition.name, version, final, int(len(frame)), True)


def read_version(root: Path, group: str, version: int | None = None) -> pd.DataFrame:
    vs = versions(root, group)
    if not vs:
        raise MMHealthError(f"{root / group}: no published versions - run `mmhealth features publish --to local`")
    v = vs[-1] if version is None else version
    if v not in vs:
        raise MMHealthError(f"{root / group}: no version v{v} (have {', '.join(f'v{x}' for x in vs)})")
    return pd.read_parquet(root / group / f"v{v}" / "data.parquet")
