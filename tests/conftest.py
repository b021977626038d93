"""Fixtures shared by every area's tests. Each area keeps its own fixtures in `tests/<area>/conftest.py`."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# pytest runs with --import-mode=importlib, which puts no test folder on sys.path; helpers shared by several areas
# (browser.py) live beside this file.
if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))
# Real public files for tests live beside the project, never copied into it (see its MANIFEST.md).
# Looked for beside the checkout first; a clone made elsewhere (e.g. in a temp dir) finds the workplace copy.
_TESTDATA_CANDIDATES = [Path(p) for p in (os.environ.get("MMHEALTH_TESTDATA"),) if p] + [
    REPO.parent / "shared" / "testdata",
    Path("/work/shared/testdata"),
]
TESTDATA = next((p for p in _TESTDATA_CANDIDATES if p.is_dir()), _TESTDATA_CANDIDATES[0])


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def testdata() -> Path:
    if not TESTDATA.is_dir():
        pytest.fail(f"shared test data not found (looked in {', '.join(map(str, _TESTDATA_CANDIDATES))}); "
                    "set MMHEALTH_TESTDATA to the folder holding fhir/, dicom/, vcf/")
    return TESTDATA


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def moto_server():
    """A moto server on 127.0.0.1 for the whole session; yields its endpoint URL.

    AWS credentials and region are set to dummies so boto3 never looks further (and never reaches AWS)."""
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture()
def moto_reset(moto_server):
    """Clear the moto server's state before a test that needs an empty account."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")).read()
    return moto_server


@pytest.fixture(scope="session", autouse=True)
def pseudonym_key_file(tmp_path_factory) -> Path:
    """A fresh random pseudonym key for the session, in a key file of the session's tmp dir (never the user's
    ~/.config key): `MMHEALTH_PSEUDONYM_KEY_FILE` names it for dbt and every tool the tests start or call.
    Random, so the key-leak test (tests/pipeline/test_key_leak.py) looks for bytes no fixture hard-codes."""
    from mmhealth.pseudonym import KEY_FILE_ENV, create_key

    path = tmp_path_factory.mktemp("secrets") / "pseudonym.key"
    create_key(path)
    saved = os.environ.get(KEY_FILE_ENV)
    os.environ[KEY_FILE_ENV] = str(path)
    try:
        yield path
    finally:
        if saved is None:
            os.environ.pop(KEY_FILE_ENV, None)
        else:
            os.environ[KEY_FILE_ENV] = saved


# --- The small end-to-end pipeline that later stages' tests build on -------------------------------------------
# generate -> ingest -> dbt build, once per test session, through the same commands a user runs.

SMALL_SCALE = {"patients": 150, "genomes": 90, "imaging": 15, "seed": 11}


class Pipeline:
    """Paths and environment of one small pipeline run."""

    def __init__(self, root: Path):
        self.root = root
        self.data = root / "data"
        self.lake = root / "lake"
        self.target_path = root / "target"
        self.warehouse = self.lake / "warehouse.duckdb"
        self.env = {
            **os.environ,
            "DBT_PROFILES_DIR": str(REPO),
            "MMHEALTH_LAKE": str(self.lake),
            "TQDM_DISABLE": "1",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }

    def run(self, *argv: str, check: bool = True, cwd: Path | None = None):
        import subprocess

        proc = subprocess.run(argv, cwd=cwd or REPO, env=self.env, capture_output=True, text=True)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} exited {proc.returncode}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
        return proc

    def dbt(self, *args: str, check: bool = True):
        return self.run(str(BIN / "dbt"), *args, "--target-path", str(self.target_path),
                        "--log-path", str(self.root / "logs"), check=check)

    @property
    def manifest(self) -> Path:
        return self.target_path / "manifest.json"


BIN = Path(os.environ.get("VIRTUAL_ENV", REPO / ".venv")) / "bin"


@pytest.fixture(scope="session")
def small_data(tmp_path_factory) -> Pipeline:
    """Generated source data only (no lake yet)."""
    p = Pipeline(tmp_path_factory.mktemp("pipeline"))
    s = SMALL_SCALE
    p.run(str(BIN / "mmhealth"), "generate", "--out", str(p.data), "--patients", str(s["patients"]),
          "--genomes", str(s["genomes"]), "--imaging", str(s["imaging"]), "--seed", str(s["seed"]))
    return p


@pytest.fixture(scope="session")
def small_lake(small_data) -> Pipeline:
    """Generated data ingested into a local lake."""
    small_data.run(str(BIN / "mmhealth"), "ingest", str(small_data.data), "--lake", str(small_data.lake),
                   "--jobs", "2")
    return small_data


@pytest.fixture(scope="session")
def small_pipeline(small_lake) -> Pipeline:
    """The lake with every dbt model built and tested (`dbt build`). Treat it as read-only."""
    small_lake.dbt("build")
    return small_lake
