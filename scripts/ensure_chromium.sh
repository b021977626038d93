#!/usr/bin/env bash
# The browser tests (Data Docs, local dashboards) render pages in Debian's headless Chromium. `make test` calls
# this first: nothing to do when a Chromium is on PATH; otherwise install Debian's package when this user can
# (root, or password-less sudo), else say in one line how to get it and stop before the suite runs.
set -euo pipefail

for name in chromium chromium-browser google-chrome chrome; do
  command -v "$name" >/dev/null 2>&1 && exit 0
done

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi
}
can_install() {
  command -v apt-get >/dev/null 2>&1 || return 1
  [ "$(id -u)" = 0 ] || { command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; }
}

if can_install; then
  echo "installing Debian's chromium for the browser tests (apt-get install chromium) ..."
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  as_root apt-get install -y -qq chromium >/dev/null
  exit 0
fi

echo "the browser tests need Chromium, which this user cannot install: run 'sudo apt-get install -y chromium' (Debian/Ubuntu), then 'make test' again" >&2
exit 1
