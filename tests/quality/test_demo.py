"""The generated-data demo - `make demo`'s data: 1,300 patients, 800 genomes, 300 imaging studies, seed 7 - passes its
gate with the checked-in project and publishes, and the shipped expectations/baseline.yml is exactly what
`mmhealth quality baseline` makes of it (regenerated here and compared)."""

from __future__ import annotations

import pytest
import yaml
from gatekit import BIN, REPO, copy_project, dbt_build, run

MMHEALTH = str(BIN / "mmhealth")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    data, lake, target = root / "data", root / "lake", root / "target"
    run(lake, MMHEALTH, "generate", "--out", str(data), "--patients", "1300", "--genomes", "800", "--imaging", "300",
        "--seed", "7")
    run(lake, MMHEALTH, "ingest", str(data), "--lake", str(lake), "--reference", str(data / "reference" / "panel.fa"),
        "--quiet", "--jobs", "2")
    # Ages are "as of today" unless as_of_date is set, so a lake built on another day profiles differently from the
    # one the shipped baseline was made of. Build as of the day that baseline was made (`make demo` builds as of
    # today, the day the baseline is regenerated), so the comparison below depends on the code, not the calendar.
    made_on = yaml.safe_load((REPO / "expectations" / "baseline.yml").read_text())["created"]
    dbt_build(lake, target, "--vars", f"{{as_of_date: '{made_on}'}}")
    return lake, target / "manifest.json"


def test_the_demo_passes_its_gate_with_the_checked_in_project_and_publishes(demo):
    lake, manifest = demo
    check = run(lake, MMHEALTH, "quality", "check", "--manifest", str(manifest), "--no-docs", check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "PASSED" in check.stdout and "profile compared with baseline.yml of" in check.stdout
    assert "profile: passed" in check.stdout
    pub = run(lake, MMHEALTH, "features", "publish", "--to", "local", "--manifest", str(manifest))
    assert (lake / "feature_store" / "mmhealth-features-cardiovascular" / "v1" / "data.parquet").exists(), pub.stdout


def test_the_shipped_baseline_is_what_quality_baseline_makes_of_the_demo(demo, tmp_path):
    lake, manifest = demo
    proj = copy_project(tmp_path / "expectations")
    (proj / "baseline.yml").unlink()
    out = run(lake, MMHEALTH, "quality", "baseline", "--project", str(proj), "--manifest", str(manifest),
              "--dbt-project", str(REPO / "dbt_project.yml"))
    assert "review the diff and commit it" in out.stdout

    shipped = yaml.safe_load((REPO / "expectations" / "baseline.yml").read_text())
    made = yaml.safe_load((proj / "baseline.yml").read_text())
    for b in (shipped, made):  # when and from which folder - not what
        b.pop("created")
        b.pop("lake")
    # Equal to a part in 10^9: DuckDB sums in parallel, so a standard deviation of 2.5e8 written with 6 decimals can
    # differ in its last digit from one run to the next (seen: ...035618 vs ...035619). Anything the code changes
    # moves a value far more than that.
    made, shipped = _leaves(made), _leaves(shipped)
    assert made.keys() == shipped.keys(), "regenerate it: `make demo`, then `mmhealth quality baseline`"
    moved = {k: (shipped[k], made[k]) for k in made if not _same(made[k], shipped[k])}
    assert moved == {}, "regenerate it: `make demo`, then `mmhealth quality baseline` (docs/quality.md)"


def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a == pytest.approx(b, rel=1e-9, abs=1e-9)
    return a == b


def _leaves(tree, prefix=()) -> dict:
    """A nested mapping as {path: value}, so a failure names each value that moved."""
    if isinstance(tree, dict):
        return {k: v for key, sub in tree.items() for k, v in _leaves(sub, (*prefix, str(key))).items()}
    return {"/".join(prefix): tree}
