#!/usr/bin/env bash
# The whole pipeline on seed-scale data, locally on DuckDB: what `make demo` runs.
# generate -> ingest -> dbt build (+ docs) -> govern validate/local -> quality check -> features publish
# -> dashboards build -> train. Re-running is cheap: ingest and dbt are incremental.
set -euo pipefail
cd "$(dirname "$0")/.."

DATA=${DEMO_DATA:-demo-data}
LAKE=${DEMO_LAKE:-demo-lake}
BIN=.venv/bin
PATIENTS=${DEMO_PATIENTS:-1300}
GENOMES=${DEMO_GENOMES:-800}
IMAGING=${DEMO_IMAGING:-300}

export DBT_PROFILES_DIR=$PWD MMHEALTH_LAKE=$(realpath -m "$LAKE") DBT_SEND_ANONYMOUS_USAGE_STATS=false
mkdir -p "$LAKE"
# The pseudonym key is a secret: one file outside the lake and the repository, mode 0600, made once per machine
# (MMHEALTH_PSEUDONYM_KEY_FILE, default ~/.config/mmhealth/pseudonym.key) and reused by every demo. dbt's SQL names
# the file; DuckDB reads it at run time, so the key is in no compiled SQL, dbt artifact, log or lake file.
FULL_REFRESH=()
if [ -e "$LAKE/.pseudonym_key" ]; then
  # Earlier demos kept the key in the lake (0644) and dbt wrote it into target/ and logs/: treat it as exposed.
  echo "removing the old in-lake key $LAKE/.pseudonym_key and dbt's old artifacts (target/, logs/) that held it;"
  echo "the marts are rebuilt (--full-refresh) with the key file below: every patient_key changes"
  rm -f "$LAKE/.pseudonym_key"
  rm -rf target logs
  FULL_REFRESH=(--full-refresh)
fi
KEY_FILE=$($BIN/mmhealth key path)
if [ ! -e "$KEY_FILE" ] && [ -e "$LAKE/warehouse.duckdb" ]; then
  FULL_REFRESH=(--full-refresh)  # a new key: marts built with another key must not be extended incrementally
fi
if [ -n "${MMHEALTH_PSEUDONYM_KEY:-}" ]; then
  echo "note: MMHEALTH_PSEUDONYM_KEY is no longer read (it put the key into dbt's artifacts); the key is the file below"
fi
$BIN/mmhealth key init --exist-ok

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1/8 generate synthetic data ($PATIENTS patients / $GENOMES genomes / $IMAGING imaging studies)"
if [ -f "$DATA/manifest.json" ] && $BIN/python - "$DATA" "$PATIENTS" "$GENOMES" "$IMAGING" <<'PY'
import json, sys
m = json.load(open(f"{sys.argv[1]}/manifest.json"))
want = dict(patients=int(sys.argv[2]), genomes=int(sys.argv[3]), imaging=int(sys.argv[4]), seed=7)
have = dict(m.get("arguments", {}), seed=m.get("seed"))
sys.exit(0 if all(have.get(k) == v for k, v in want.items()) else 1)
PY
then
  echo "$DATA already holds this data set (same arguments); delete it to regenerate"
else
  $BIN/mmhealth generate --out "$DATA" --patients "$PATIENTS" --genomes "$GENOMES" --imaging "$IMAGING" --seed 7
fi

step "2/8 ingest into the lake ($LAKE)"
$BIN/mmhealth ingest "$DATA" --lake "$LAKE" --reference "$DATA/reference/panel.fa"

step "3/8 dbt build (staging -> intermediate -> marts, with every test) and docs"
# dbt prints a line per model and test: scripts/dbt_progress.py keeps its header, every WARN / ERROR line and its
# summary (Done. PASS=... WARN=... ERROR=...), with a progress line on a terminal; logs/dbt.log has all of it.
$BIN/dbt build --target-path target ${FULL_REFRESH[@]+"${FULL_REFRESH[@]}"} | $BIN/python scripts/dbt_progress.py
$BIN/dbt docs generate --quiet --target-path target
$BIN/python scripts/mart_counts.py "$LAKE/warehouse.duckdb"

step "4/8 governance: validate the Lake Formation policy, preview it locally (not a security boundary)"
$BIN/mmhealth govern validate --manifest target/manifest.json
$BIN/mmhealth govern local --manifest target/manifest.json

step "5/8 quality gate (Great Expectations)"
$BIN/mmhealth quality check --checkpoint pre_feature_store

step "6/8 publish features to the local offline store"
$BIN/mmhealth features publish --to local

step "7/8 dashboards"
$BIN/mmhealth dashboards build --out "$LAKE/dashboards" --manifest target/manifest.json

step "8/8 baseline models per outcome x modality set"
$BIN/mmhealth train --out "$LAKE/runs/demo" --repeats 1

cat <<TXT

Done. Where the results are:
  pseudonym key (secret) $KEY_FILE  (0600, outside the lake; never printed)
  source data           $DATA/  (manifest.json)
  lake                  $LAKE/lake.duckdb  (Parquet under $LAKE/)
  marts (dbt, DuckDB)   $LAKE/warehouse.duckdb
  dbt docs              target/index.html  (or: .venv/bin/dbt docs serve --target-path target)
  quality Data Docs     $LAKE/quality/
  feature store         $LAKE/feature_store/
  dashboards            $LAKE/dashboards/index.html
  model comparison      $LAKE/runs/demo/results.md
TXT
