"""Helpers of the quality and features tests: private copies of expectations/ and of a lake, SQL on a lake's marts."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[2]
MARTS = "mmhealth_marts"  # the schema dbt-duckdb builds the marts in (profiles.yml: mmhealth + custom `marts`)


def copy_project(dest: Path, *, baseline: bool = True, src: Path | None = None) -> Path:
    """A private expectations/ folder (gate.yml, baseline.yml, gx/ with its plugin), without GE's uncommitted/."""
    shutil.copytree(src or REPO / "expectations", dest, ignore=shutil.ignore_patterns("uncommitted", "__pycache__"))
    if not baseline:
        (dest / "baseline.yml").unlink()
    return dest


def copy_lake(src: Path, dest: Path) -> Path:
    """The warehouse (marts are tables) and whatever gate state the source lake has."""
    dest.mkdir(parents=True)
    shutil.copy2(src / "warehouse.duckdb", dest / "warehouse.duckdb")
    if (src / "quality").is_dir():
        shutil.copytree(src / "quality", dest / "quality", ignore=shutil.ignore_patterns(".lock"))
    return dest


def sql(lake: Path, statement: str, *params):
    """Change a mart in place, as a broken build (or a hand edit after the gate) would."""
    con = duckdb.connect(str(lake / "warehouse.duckdb"))
    try:
        return con.execute(statement, list(params)).fetchall()
    finally:
        con.close()


def options(project: Path, lake: Path, manifest: Path, **kw):
    from mmhealth.quality.runner import CheckOptions

    kw.setdefault("data_docs", False)
    return CheckOptions(project=project, lake=lake, manifest=manifest, dbt_project=REPO / "dbt_project.yml", **kw)


def compile_project(project: Path, manifest: Path) -> list[str]:
    from mmhealth.quality.compile import write_project
    from mmhealth.quality.runner import load_sources

    return write_project(load_sources(options(project, project, manifest)), project)


BIN = Path(__import__("os").environ.get("VIRTUAL_ENV", REPO / ".venv")) / "bin"


def pipeline_env(lake: Path) -> dict[str, str]:
    import os

    return {**os.environ, "DBT_PROFILES_DIR": str(REPO), "MMHEALTH_LAKE": str(lake),
            "MMHEALTH_PSEUDONYM_KEY": "test-pseudonym-key-not-secret", "TQDM_DISABLE": "1",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}


def run(lake: Path, *argv: str, check: bool = True):
    """A command as a user runs it, with the lake's environment; fails with its output."""
    import subprocess

    proc = subprocess.run(argv, cwd=REPO, env=pipeline_env(lake), capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {proc.returncode}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def dbt_build(lake: Path, target: Path, *args: str):
    return run(lake, str(BIN / "dbt"), "build", "--quiet", "--target-path", str(target), "--log-path",
               str(target.parent / "dbt-logs"), *args)
