#!/usr/bin/env bash
# Installs Deno 2 and Bun 1 for scripts/test-runtimes.mjs from their npm packages (each ships the binary:
# @deno/linux-<arch>-glibc, @oven/bun-linux-<arch>) into the ignored cache folder .cache/<runtime>/. Skips a runtime
# whose cached binary already runs and is the right major. Prints the binary's path on stdout.
#
#   scripts/install-runtime.sh deno      # → /…/.cache/deno/node_modules/@deno/linux-x64-glibc/deno
#   scripts/install-runtime.sh bun       # → /…/.cache/bun/node_modules/@oven/bun-linux-x64/bin/bun
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runtime="${1:-}"

case "$(uname -m)" in
  x86_64 | amd64) deno_arch=x64 bun_arch=x64 ;;
  aarch64 | arm64) deno_arch=arm64 bun_arch=aarch64 ;;
  *) echo "install-runtime: no npm build of Deno/Bun for $(uname -m)" >&2; exit 1 ;;
esac

case "$runtime" in
  deno) major=2 package="@deno/linux-$deno_arch-glibc" binary="node_modules/@deno/linux-$deno_arch-glibc/deno" ;;
  bun) major=1 package="@oven/bun-linux-$bun_arch" binary="node_modules/@oven/bun-linux-$bun_arch/bin/bun" ;;
  *) echo "usage: $0 deno|bun" >&2; exit 2 ;;
esac

dir="$root/.cache/$runtime"
bin="$dir/$binary"

installed() { # the binary runs and is the right major (deno prints "deno 2.x.y …", bun "1.x.y")
  [[ -x "$bin" ]] && "$bin" --version 2>/dev/null | head -n1 | grep -Eq "^(deno )?$major\."
}

if installed; then
  echo "install-runtime: $runtime $("$bin" --version | head -n1) already in $dir" >&2
else
  echo "install-runtime: installing $package@$major into $dir" >&2
  rm -rf "$dir"
  mkdir -p "$dir"
  # A package.json of its own anchors npm here, so it never walks up into the workspace root.
  printf '{ "name": "%s-cache", "private": true }\n' "$runtime" >"$dir/package.json"
  for attempt in 1 2 3; do
    if npm install --no-save --no-package-lock --no-audit --no-fund --ignore-scripts --loglevel=error \
      --prefix "$dir" "$package@$major" >&2; then
      break
    fi
    if [[ $attempt == 3 ]]; then
      echo "install-runtime: npm install $package@$major failed" >&2
      exit 1
    fi
    echo "install-runtime: attempt $attempt failed, retrying" >&2
    sleep $((attempt * 5))
  done
  chmod +x "$bin" 2>/dev/null || true
  if ! installed; then
    echo "install-runtime: $bin missing or not $runtime $major after install" >&2
    exit 1
  fi
  echo "install-runtime: installed $runtime $("$bin" --version | head -n1)" >&2
fi
echo "$bin"
