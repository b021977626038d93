"""Fixtures of the dbt tests. The main build is the shared `small_pipeline` (tests/conftest.py: generate -> ingest ->
dbt build). Other lakes (the leakage variant, the real FHIR files) are built through one symlinked lake path so that
dbt's partial parsing is reused between them (dbt re-parses the whole project when the profile's path changes).
The slow checks that need no lake (Athena compile, sqlfluff) start in the background as soon as the first dbt test
runs, so they overlap with the builds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

# pytest runs with --import-mode=importlib, which puts no test folder on sys.path; the helpers live beside this file
if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

from dbt_testkit import BIN, REPO, dbt_env  # noqa: E402


class Background:
    """A command started now, waited for when a test needs its result."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path):
        self.argv = argv
        self.log = log
        self._out = open(log, "w")
        self.proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=self._out, stderr=subprocess.STDOUT, text=True)

    def wait(self) -> tuple[int, str]:
        rc = self.proc.wait()
        self._out.close()
        return rc, self.log.read_text()


@pytest.fixture(scope="session")
def dbt_scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("dbt")


@pytest.fixture(scope="session", autouse=True)
def background_checks(dbt_scratch):
    """Athena compile (all models and tests, no catalog) and sqlfluff, started at the beginning of the session."""
    env = dbt_env(dbt_scratch / "no-lake")
    athena_target = dbt_scratch / "target-athena"
    # exactly the CI command of the issue: no vars, no AWS (macro mmh_catalog_readable)
    compile_cmd = [str(BIN / "dbt"), "compile", "--target", "athena", "--no-populate-cache",
                   "--target-path", str(athena_target),
                   "--log-path", str(dbt_scratch / "logs-athena"), "--exclude", "path:models/semantic"]
    lint_cmd = [str(BIN / "sqlfluff"), "lint", "--processes", "2", "--disable-progress-bar",
                *sorted(str(p.relative_to(REPO)) for p in (REPO / "models").iterdir()
                        if p.is_dir() and p.name != "semantic")]
    checks = {
        "athena_compile": Background(compile_cmd, env, dbt_scratch / "athena-compile.log"),
        "sqlfluff": Background(lint_cmd, env, dbt_scratch / "sqlfluff.log"),
    }
    yield {**checks, "athena_target": athena_target}
    for check in checks.values():  # a session that never waited for them must not leave them running
        if check.proc.poll() is None:
            check.proc.terminate()
            check.proc.wait(timeout=30)


@pytest.fixture(scope="session")
def athena_compiled(background_checks) -> Path:
    rc, log = background_checks["athena_compile"].wait()
    assert rc == 0, f"dbt compile --target athena failed:\n{log[-5000:]}"
    return Path(background_checks["athena_target"]) / "compiled" / "mmhealth"


class AltLakes:
    """Runs dbt on other lakes through one symlink (`current`), so partial parsing carries over between them."""

    def __init__(self, root: Path):
        self.root = root
        self.link = root / "current"
        self.target = root / "target-alt"

    def use(self, lake: Path) -> None:
        if self.link.is_symlink() or self.link.exists():
            self.link.unlink()
        self.link.symlink_to(lake, target_is_directory=True)

    def dbt(self, lake: Path, *args: str) -> subprocess.CompletedProcess:
        self.use(lake)
        proc = subprocess.run([str(BIN / "dbt"), *args, "--target-path", str(self.target),
                               "--log-path", str(self.root / "logs-alt")],
                              cwd=REPO, env=dbt_env(self.link), capture_output=True, text=True)
        assert proc.returncode == 0, f"dbt {' '.join(args)} on {lake} failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-2000:]}"
        return proc


@pytest.fixture(scope="session")
def alt_lakes(dbt_scratch) -> AltLakes:
    return AltLakes(dbt_scratch)
