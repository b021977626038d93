"""The documented Athena compile (`make athena-compile` = scripts/dbt_athena.sh) leaves the local build's
artifacts alone, and without AWS credentials a catalog-reading command stops with one line naming the fix."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "dbt_athena.sh"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "DBT_TARGET_PATH": str(tmp_path / "target"), "DBT_LOG_PATH": str(tmp_path / "logs"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", **extra}


def test_athena_compile_writes_its_own_target_and_leaves_the_local_manifest(tmp_path):
    local = tmp_path / "target" / "manifest.json"
    local.parent.mkdir(parents=True)
    local.write_text('{"metadata": {"adapter_type": "duckdb"}, "stands_for": "the local build"}')
    before = local.read_bytes()
    proc = subprocess.run([str(SCRIPT), "compile", "--no-populate-cache", "--select", "int_patient_spine"],
                          cwd=REPO, env=_env(tmp_path), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert local.read_bytes() == before
    athena = json.loads((tmp_path / "target" / "athena" / "manifest.json").read_text())
    assert athena["metadata"]["adapter_type"] == "athena"
    assert (tmp_path / "target" / "athena" / "compiled" / "mmhealth").is_dir()


def test_without_credentials_one_line_names_no_populate_cache(tmp_path):
    env = {k: v for k, v in _env(tmp_path).items() if not k.startswith("AWS_")}
    env.update(AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"), AWS_CONFIG_FILE=str(tmp_path / "none"),
               AWS_EC2_METADATA_DISABLED="true")
    proc = subprocess.run([str(SCRIPT), "compile"], cwd=REPO, env=env, capture_output=True, text=True)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--no-populate-cache" in lines[0] and "Traceback" not in proc.stderr
    assert not (tmp_path / "target").exists()  # stopped before dbt wrote anything
