#!/usr/bin/env bash
# The cohort behind docs/ml.md's multimodal table: generate -> ingest -> dbt build (up to features_cardiovascular)
# -> publish the mart to a local feature store -> train with the generator's oracle. Local DuckDB; see docs/ml.md
# ("The multimodal answer") for sizes and what they cost.
#   scripts/ml_cohort.sh [WORK_DIR] [PATIENTS] [GENOMES] [IMAGING]
# The quality gate is not run: its shipped baseline describes the demo's scale, not this one, so the mart is published
# with the features stage's writer directly (ml/synthetic.py write_local_store), phi columns left behind as
# `features publish` does. The pseudonym key is a fresh one in WORK_DIR/secrets (never the user's own).
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-ml-cohort}
PATIENTS=${2:-10000}
GENOMES=${3:-6154}
IMAGING=${4:-2308}
BIN=$PWD/.venv/bin
mkdir -p "$WORK/secrets"
WORK=$(realpath "$WORK")
export DBT_PROFILES_DIR=$PWD MMHEALTH_LAKE=$WORK/lake DBT_SEND_ANONYMOUS_USAGE_STATS=false TQDM_DISABLE=1
export MMHEALTH_PSEUDONYM_KEY_FILE=${MMHEALTH_PSEUDONYM_KEY_FILE:-$WORK/secrets/pseudonym.key}
$BIN/mmhealth key init --exist-ok
[ -f "$WORK/data/manifest.json" ] || $BIN/mmhealth generate --out "$WORK/data" --patients "$PATIENTS" \
    --genomes "$GENOMES" --imaging "$IMAGING" --seed 7
$BIN/mmhealth ingest "$WORK/data" --lake "$WORK/lake" --reference "$WORK/data/reference/panel.fa" --quiet
for step in seed "run --select +features_cardiovascular"; do
  $BIN/dbt $step --quiet --target-path "$WORK/target" --log-path "$WORK/logs"
done
$BIN/python - "$WORK" <<'PY'
import shutil, sys
from pathlib import Path
import duckdb
from mmhealth.features.sensitivity import column_sensitivity, phi_columns
from mmhealth.ml.synthetic import write_local_store
work = Path(sys.argv[1])
with duckdb.connect(str(work / "lake" / "warehouse.duckdb"), read_only=True) as con:
    schema = con.sql("select table_schema from information_schema.tables "
                     "where table_name = 'features_cardiovascular'").fetchone()[0]
    frame = con.sql(f"select * from {schema}.features_cardiovascular").df()
phi = phi_columns(list(frame.columns), column_sensitivity("features_cardiovascular", work / "target" / "manifest.json", None))
shutil.rmtree(work / "store", ignore_errors=True)
print("published", write_local_store(frame.drop(columns=phi), work / "store"), len(frame), "rows")
PY
$BIN/mmhealth train --store "$WORK/store" --manifest "$WORK/target/manifest.json" \
    --oracle "$WORK/data/evaluation/oracle.csv" --modalities clinical,clinical+genomic,clinical+imaging,all \
    --repeats 2 --jobs 2 --quiet --out "$WORK/run"
