"""Progress bars only on a terminal, and commands that give the same answer from any working directory
(their defaults resolve from the project through mmhealth.paths)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mmhealth import paths, progress

REPO = Path(__file__).resolve().parents[2]
MMHEALTH = Path(sys.executable).parent / "mmhealth"


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_is_wanted_only_on_a_terminal_and_not_when_quiet():
    assert progress.wanted(stream=_Terminal())
    assert not progress.wanted(quiet=True, stream=_Terminal())
    assert not progress.wanted(stream=io.StringIO())


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMHEALTH_") and k != "TQDM_DISABLE"}
    env.update(extra)
    return env


def test_generate_and_ingest_write_no_progress_into_a_redirected_stderr(tmp_path):
    data, lake = tmp_path / "data", tmp_path / "lake"
    for argv in (["generate", "--out", str(data), "--patients", "12", "--genomes", "2", "--imaging", "1"],
                 ["ingest", str(data), "--lake", str(lake), "--modality", "fhir,genomics"]):
        proc = subprocess.run([str(MMHEALTH), *argv], cwd=tmp_path, env=_env(), capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert "\r" not in proc.stderr, proc.stderr[:400]


def test_project_root_is_found_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.delenv(paths.PROJECT_ENV, raising=False)
    monkeypatch.delenv(paths.LAKE_ENV, raising=False)
    monkeypatch.chdir(tmp_path)  # no dbt_project.yml here or above: the checkout this package runs from
    assert paths.project_root() == REPO
    assert paths.lake_dir() == REPO / "demo-lake"
    assert paths.dbt_manifest() == REPO / "target" / "manifest.json"
    assert paths.policy_file() == REPO / "governance" / "policy.yml"
    sub = REPO / "models" / "marts"
    monkeypatch.chdir(sub)  # inside the project: the nearest dbt_project.yml above
    assert paths.project_root() == REPO
    other = tmp_path / "other-project"
    (other / "deep").mkdir(parents=True)
    (other / "dbt_project.yml").write_text("name: other\n")
    monkeypatch.chdir(other / "deep")
    assert paths.project_root() == other.resolve()
    monkeypatch.setenv(paths.PROJECT_ENV, str(tmp_path))
    assert paths.project_root() == tmp_path.resolve()
    monkeypatch.setenv(paths.LAKE_ENV, "somewhere")
    assert paths.warehouse_path() == Path("somewhere") / "warehouse.duckdb"
    assert paths.warehouse_path(tmp_path / "l") == tmp_path / "l" / "warehouse.duckdb"


@pytest.mark.parametrize("argv", [
    ["govern", "validate", "--manifest", str(REPO / "tests" / "governance" / "fixtures" / "manifest.json")],
    ["govern", "dbt-config", "--manifest", str(REPO / "tests" / "governance" / "fixtures" / "manifest.json")],
    ["quality", "compile", "--check", "--manifest", str(REPO / "tests" / "governance" / "fixtures" / "manifest.json")],
])
def test_commands_run_from_another_working_directory(argv, tmp_path):
    """Run from an empty folder, each command still finds governance/policy.yml, expectations/ and dbt_project.yml
    of the project, and says the same as from the project root."""
    def run(cwd):
        return subprocess.run([str(MMHEALTH), *argv], cwd=cwd, env=_env(), capture_output=True, text=True)

    elsewhere, at_root = run(tmp_path), run(REPO)
    assert "not found" not in elsewhere.stderr and "No such file" not in elsewhere.stderr, elsewhere.stderr
    assert (elsewhere.returncode, elsewhere.stdout) == (at_root.returncode, at_root.stdout)
    assert elsewhere.returncode in (0, 1, 2)


def test_the_demo_shows_dbt_warnings_and_its_summary_line_not_every_node():
    dbt_out = "\n".join([
        "12:00:00  Running with dbt=1.10.0",
        "12:00:01  1 of 3 START sql view model main.stg_a ........ [RUN]",
        "12:00:01  1 of 3 OK created sql view model main.stg_a ........ [\x1b[32mOK\x1b[0m in 0.10s]",
        "12:00:02  2 of 3 \x1b[33mWARN 2\x1b[0m not_null_b ........ [\x1b[33mWARN 2\x1b[0m in 0.10s]",
        "12:00:03  3 of 3 PASS unique_c ........ [\x1b[32mPASS\x1b[0m in 0.10s]",
        "12:00:04  Done. PASS=2 WARN=1 ERROR=0 SKIP=0 NO-OP=0 TOTAL=3",
    ]) + "\n"
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "dbt_progress.py")], input=dbt_out,
                          capture_output=True, text=True, check=True)
    lines = proc.stdout.splitlines()
    assert lines[0].endswith("Running with dbt=1.10.0") and lines[-1].endswith("TOTAL=3")
    assert len(lines) == 3 and "WARN 2" in lines[1]
    assert proc.stderr == ""  # not a terminal: no progress line
    assert "| $BIN/python scripts/dbt_progress.py" in (REPO / "scripts" / "demo.sh").read_text()
