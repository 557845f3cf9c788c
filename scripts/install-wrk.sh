#!/usr/bin/env bash
# Installs wrk, the HTTP load generator of bench/http.mjs (npm run bench), from Debian's packages when it is
# missing. Needs root (CI and the project's machines run as root); otherwise it says what to run and fails.
set -euo pipefail
if command -v wrk >/dev/null 2>&1; then
  exit 0
fi
if [[ "$(id -u)" != "0" ]]; then
  echo "install-wrk: wrk is not installed and this is not root: run 'apt-get install wrk' (Debian/Ubuntu) first" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-wrk: no apt-get here: install wrk with this system's package manager" >&2
  exit 1
fi
echo "install-wrk: installing wrk from Debian's packages" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y --no-install-recommends wrk >/dev/null; }
command -v wrk >/dev/null
