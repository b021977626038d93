"""The README's numbers do not depend on the pseudonym key: the same generated files, ingested and built with two
different keys (every patient_key and so the mart's row order differ), give the same metrics from the README's
train command. Folds and bootstrap resamples follow a key-independent row order (ml/ceiling.py stable_order)."""

import json
import os
import subprocess
from pathlib import Path

import duckdb
import pytest

from mmhealth.cli import main
from mmhealth.ml.synthetic import write_local_store
from mmhealth.pseudonym import KEY_FILE_ENV, create_key

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("VIRTUAL_ENV", REPO / ".venv")) / "bin"


def _run(env, *argv):
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(argv)}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"


def _publish(warehouse, manifest, root):
    """What `features publish --to local` writes (phi columns left behind), without the quality gate."""
    from mmhealth.features.sensitivity import column_sensitivity, phi_columns

    with duckdb.connect(str(warehouse), read_only=True) as con:
        schema = con.sql("select table_schema from information_schema.tables "
                         "where table_name = 'features_cardiovascular'").fetchone()[0]
        frame = con.sql(f"select * from {schema}.features_cardiovascular").df()
    phi = phi_columns(list(frame.columns), column_sensitivity("features_cardiovascular", manifest, None))
    write_local_store(frame.drop(columns=phi), root)
    return frame


@pytest.fixture(scope="module")
def two_keys(small_pipeline, tmp_path_factory):
    root = tmp_path_factory.mktemp("rekeyed")
    key = root / "secrets" / "pseudonym.key"
    create_key(key)
    lake, target = root / "lake", root / "target"
    env = {**small_pipeline.env, "MMHEALTH_LAKE": str(lake), KEY_FILE_ENV: str(key)}
    _run(env, str(BIN / "mmhealth"), "ingest", str(small_pipeline.data), "--lake", str(lake), "--jobs", "2", "--quiet")
    for step in (["seed"], ["run", "--select", "+features_cardiovascular"]):
        _run(env, str(BIN / "dbt"), *step, "--target-path", str(target), "--log-path", str(root / "logs"))
    first = _publish(small_pipeline.warehouse, small_pipeline.manifest, root / "store-a")
    second = _publish(lake / "warehouse.duckdb", target / "manifest.json", root / "store-b")
    return root, key, first, second


def _train(store, out, oracle, key_file, monkeypatch):
    monkeypatch.setenv(KEY_FILE_ENV, str(key_file))
    # the README's command (README.md, docs/ml.md: `mmhealth train --repeats 2`), with the generator's oracle
    assert main(["train", "--store", str(store), "--oracle", str(oracle), "--repeats", "2", "--quiet",
                 "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    for cell in results["results"]:
        cell.pop("seconds")
    return results


# The item's time includes building the shared small pipeline (when it runs first), a second lake and two full
# trainings of the README's command: more than the suite's 900 s default on a loaded 2-core machine.
@pytest.mark.timeout(2400)
def test_a_new_pseudonym_key_gives_the_same_numbers(two_keys, small_pipeline, monkeypatch):
    root, key, first, second = two_keys
    assert set(first["patient_key"]).isdisjoint(second["patient_key"])  # really another key
    oracle = small_pipeline.data / "evaluation" / "oracle.csv"
    a = _train(root / "store-a", root / "run-a", oracle, os.environ[KEY_FILE_ENV], monkeypatch)
    b = _train(root / "store-b", root / "run-b", oracle, key, monkeypatch)
    ok = [c for c in a["results"] if c["status"] == "ok"]
    assert ok, "the small cohort must evaluate at least one cell for this test to mean anything"
    assert all(c["oracle"] for c in ok)  # the oracle joined under each key
    assert a["results"] == b["results"]
    assert a["paired"] == b["paired"]
    models = lambda r: [(m["outcome"], m["modalities"], m["selected"], m["inner_auroc"])  # noqa: E731
                        for m in json.loads((r / "manifest.json").read_text())["models"]]
    assert models(root / "run-a") == models(root / "run-b")
