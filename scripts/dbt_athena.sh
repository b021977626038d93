#!/usr/bin/env bash
# dbt on the Athena target without touching the local build's artifacts:
#   scripts/dbt_athena.sh compile --no-populate-cache     (what `make athena-compile` runs: offline, CI-safe)
#   scripts/dbt_athena.sh parse                           (the manifest `dashboards quicksight` / `govern` read)
#   scripts/dbt_athena.sh build                           (a deployment, with AWS credentials)
# Artifacts go to $DBT_TARGET_PATH/athena (default target/athena) and logs to logs/athena, so target/manifest.json
# stays the local one that `mf`, governance and dashboards read. Without AWS credentials, a command that would
# read the Glue catalog stops here with one line instead of botocore's NoCredentialsError traceback.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}

if [ $# -eq 0 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
  sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi

offline=0
for arg in "$@"; do
  case "$arg" in --no-populate-cache) offline=1 ;; esac
done
# parse and ls never connect; every other command reads the catalog unless told not to.
case "$1" in parse|ls|list|deps|clean|debug) offline=1 ;; esac
if [ "$offline" = 0 ] && ! "$BIN/python" -c "import boto3, sys; sys.exit(0 if boto3.Session().get_credentials() else 1)" 2>/dev/null; then
  echo "dbt $1 --target athena: no AWS credentials found - compile offline with --no-populate-cache (make athena-compile), or configure credentials (AWS_PROFILE, env vars, an instance role)" >&2
  exit 1
fi

export DBT_PROFILES_DIR=${DBT_PROFILES_DIR:-$PWD}
exec "$BIN/dbt" "$@" --target athena --target-path "${DBT_TARGET_PATH:-target}/athena" --log-path "${DBT_LOG_PATH:-logs}/athena"
