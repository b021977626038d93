"""The pseudonym key never reaches a file the tools write (issue 18): after a demo-like run - generate, ingest,
`dbt build` and `dbt docs generate` on the local target, `dbt compile --target athena --no-populate-cache`, then the
later stages (govern local, quality check, features publish, dashboards build) - no file under the dbt target
folders, dbt's logs, the lake or the stages' output folders holds the key, as hex (either case) or as raw bytes.
The key file itself stays 0600 and outside the lake."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("VIRTUAL_ENV", REPO / ".venv")) / "bin"


def _needles(key_hex: str) -> dict[str, bytes]:
    return {"hex": key_hex.lower().encode(), "HEX": key_hex.upper().encode(), "raw": bytes.fromhex(key_hex)}


def files_holding(roots: list[Path], key_hex: str) -> list[str]:
    """Every file under `roots` holding the key in any of its forms, as 'path (form)'."""
    needles = _needles(key_hex)
    hits = []
    for root in roots:
        for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
            data = path.read_bytes()
            hits += [f"{path} ({form})" for form, needle in needles.items() if needle in data]
    return hits


def test_the_finder_sees_the_key_in_every_form(tmp_path):
    """The search below can fail: it finds the key written as hex, upper-case hex and raw bytes."""
    key = "0123456789abcdef" * 4
    (tmp_path / "a.sql").write_text(f"select sha256('{key}' || ':' || id)")
    (tmp_path / "b.bin").write_bytes(b"\x00" + bytes.fromhex(key) + b"\x00")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.log").write_text(key.upper())
    (tmp_path / "clean.txt").write_text("nothing here")
    assert files_holding([tmp_path], key) == [f"{tmp_path / 'a.sql'} (hex)", f"{tmp_path / 'b.bin'} (raw)",
                                              f"{tmp_path / 'sub' / 'c.log'} (HEX)"]


@pytest.fixture(scope="module")
def demo_like_run(small_pipeline, tmp_path_factory) -> list[Path]:
    """The shared pipeline (generate -> ingest -> dbt build, with its own target and log folders) plus docs, the
    Athena compile and the later stages on a private copy of the warehouse. Returns every folder they wrote."""
    root = tmp_path_factory.mktemp("key-leak")
    p = small_pipeline
    docs_target, athena_target, logs = root / "target-docs", root / "target-athena", root / "logs"
    shutil.copytree(p.target_path, docs_target)  # its partial parse spares `docs generate` a full parse
    for argv in (["docs", "generate", "--target-path", str(docs_target)],
                 ["compile", "--target", "athena", "--no-populate-cache", "--target-path", str(athena_target)]):
        p.run(str(BIN / "dbt"), *argv, "--log-path", str(logs))

    lake = root / "lake"  # later stages write into the lake: a copy, so the shared pipeline stays read-only
    shutil.copytree(p.lake, lake)
    env = {"MMHEALTH_LAKE": str(lake)}
    out = root / "dashboards"
    # the gate on a private copy of the project, with a baseline of this build (the shipped one is the demo's)
    project = root / "expectations"
    shutil.copytree(REPO / "expectations", project, ignore=shutil.ignore_patterns("uncommitted"))
    gate = ["--project", str(project), "--manifest", str(p.manifest), "--dbt-project", str(REPO / "dbt_project.yml")]
    for argv in (["govern", "local", "--manifest", str(p.manifest), "--warehouse", str(lake / "warehouse.duckdb")],
                 ["quality", "baseline", *gate],
                 ["quality", "check", "--checkpoint", "pre_feature_store", *gate],
                 ["features", "publish", "--to", "local", "--manifest", str(p.manifest)],
                 ["dashboards", "build", "--out", str(out), "--lake", str(lake), "--manifest", str(p.manifest),
                  "--max-patients", "20"]):
        proc = subprocess.run([str(BIN / "mmhealth"), *argv], cwd=REPO, env={**p.env, **env},
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"mmhealth {' '.join(argv)}: {proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    return [p.target_path, p.root / "logs", p.lake, p.data, docs_target, athena_target, logs, lake, out, project]


def test_no_written_file_holds_the_key(demo_like_run, pseudonym_key_file):
    key = pseudonym_key_file.read_text().strip()
    folders = [f for f in demo_like_run if f.exists()]
    # the run did write what the issue names: compiled and run SQL, manifests, partial parse, dbt's log, the lake
    written = {f.name for folder in folders for f in folder.rglob("*") if f.is_file()}
    assert {"manifest.json", "run_results.json", "partial_parse.msgpack", "dbt.log", "catalog.json",
            "int_patient_spine.sql", "warehouse.duckdb", "lake.duckdb"} <= written
    assert files_holding(folders, key) == []
    # ... while the SQL that computes patient_key names where the key is kept
    spine = next(demo_like_run[0].rglob("run/**/int_patient_spine.sql")).read_text()
    assert f"read_text('{pseudonym_key_file}')" in spine


def test_the_key_file_is_private_and_outside_the_lake(small_pipeline, pseudonym_key_file):
    mode = stat.S_IMODE(pseudonym_key_file.stat().st_mode)
    assert mode == 0o600
    assert small_pipeline.lake.resolve() not in pseudonym_key_file.resolve().parents
