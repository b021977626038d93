"""Gate results as JSON: one file per run plus a `latest` pointer per checkpoint and target.

`mmhealth features publish` reads the latest result and refuses unless it passed *for exactly the data it is about
to publish*: each mart's content hash is part of the result.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mmhealth.errors import MMHealthError


@dataclass(frozen=True)
class Failure:
    mart: str
    suite: str
    check: str
    expectation: str
    column: str | None
    observed: str
    expected: str


@dataclass(frozen=True)
class MartResult:
    name: str
    rows: int
    content_hash: str
    success: bool
    validations: dict[str, str]  # kind -> passed | failed | skipped (<why>)


@dataclass
class RunResult:
    run_id: str
    checkpoint: str
    target: str
    started_at: str
    finished_at: str
    success: bool
    marts: dict[str, MartResult]
    failures: list[Failure] = field(default_factory=list)
    evaluated: int = 0
    data_docs: str | None = None
    baselines: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True, default=str) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "RunResult":
        raw = json.loads(text)
        raw["marts"] = {k: MartResult(**v) for k, v in raw["marts"].items()}
        raw["failures"] = [Failure(**f) for f in raw.get("failures", [])]
        return cls(**raw)


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def latest_path(quality: Path, checkpoint: str, target: str) -> Path:
    return quality / "latest" / f"{checkpoint}__{target}.json"


def write_result(quality: Path, result: RunResult) -> Path:
    path = quality / "runs" / f"{result.run_id}.json"
    _atomic_write(path, result.to_json())
    _atomic_write(latest_path(quality, result.checkpoint, result.target), result.to_json())
    return path


def load_latest(quality: Path, checkpoint: str, target: str) -> RunResult | None:
    path = latest_path(quality, checkpoint, target)
    if not path.exists():
        return None
    return RunResult.from_json(path.read_text())


def require_passed(quality: Path, checkpoint: str, target: str, mart: str, content_hash: str) -> RunResult:
    """The latest run of `checkpoint` on `target`, if it passed for this mart with this content; else refuse."""
    fix = f"run `mmhealth quality check --checkpoint {checkpoint} --target {target}` and fix what it reports"
    result = load_latest(quality, checkpoint, target)
    where = latest_path(quality, checkpoint, target)
    if result is None:
        raise MMHealthError(f"{where}: no quality gate result for {mart} - {fix}")
    if mart not in result.marts:
        raise MMHealthError(f"{where}: checkpoint {checkpoint} did not check {mart} - add it in expectations/gate.yml")
    if not result.success:
        n = len(result.failures)
        raise MMHealthError(f"{where}: latest gate run {result.run_id} FAILED ({n} failed expectations) - {fix}")
    if result.marts[mart].content_hash != content_hash:
        raise MMHealthError(
            f"{where}: {mart} changed since gate run {result.run_id} passed (content hash "
            f"{result.marts[mart].content_hash[:12]} != {content_hash[:12]}) - {fix}"
        )
    return result
