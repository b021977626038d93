"""Fixtures of the views tests: the official SQL-on-FHIR suite (read in place) and a lake of the real Synthea
bundles, ingested once per session through the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("VIRTUAL_ENV", REPO / ".venv")) / "bin"
REAL_VIEWS = Path(__file__).parent / "real"


def mmhealth(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(BIN / "mmhealth"), *args], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "TQDM_DISABLE": "1"})
    if check and proc.returncode != 0:
        raise AssertionError(f"mmhealth {' '.join(args)} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture(scope="session")
def sof_suite(testdata) -> Path:
    return testdata / "sql-on-fhir"


@pytest.fixture(scope="session")
def synthea_lake(testdata, tmp_path_factory) -> Path:
    lake = tmp_path_factory.mktemp("views") / "synthea-lake"
    mmhealth("ingest", str(testdata / "fhir" / "synthea-bundles"), "--lake", str(lake), "--modality", "fhir",
             "--quiet")
    return lake


if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))
