#!/usr/bin/env bash
# Installs Debian's Chromium (/usr/bin/chromium) for the browser test of the reference app
# (examples/server/browser.test.mjs, driven by playwright-core, which downloads no browser of its own).
# Does nothing when /usr/bin/chromium is already there. Needs root (CI and the dev machines run as root).
#
#   bash scripts/install-chromium.sh
set -euo pipefail

readonly CHROMIUM=/usr/bin/chromium

if [[ -x "$CHROMIUM" ]]; then
  echo "install-chromium: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM") already installed" >&2
  exit 0
fi

sudo_cmd=()
if [[ "$(id -u)" != 0 ]]; then
  command -v sudo >/dev/null || { echo "install-chromium: not root and no sudo: cannot apt-get install chromium" >&2; exit 1; }
  sudo_cmd=(sudo -n) # -n: fail rather than wait for a password (npm test runs this)
fi

echo "install-chromium: installing Debian's chromium package" >&2
for attempt in 1 2 3; do
  if "${sudo_cmd[@]}" apt-get update -qq &&
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >&2; then
    break
  fi
  if [[ $attempt == 3 ]]; then
    echo "install-chromium: apt-get install chromium failed" >&2
    exit 1
  fi
  echo "install-chromium: attempt $attempt failed, retrying" >&2
  sleep $((attempt * 5))
done

if [[ ! -x "$CHROMIUM" ]]; then
  echo "install-chromium: $CHROMIUM missing after install" >&2
  exit 1
fi
echo "install-chromium: installed $("$CHROMIUM" --version 2>/dev/null)" >&2
