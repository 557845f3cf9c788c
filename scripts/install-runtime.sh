#!/usr/bin/env bash
# Installs Deno and Bun for scripts/test-runtimes.mjs from their npm packages (each ships the binary:
# @deno/linux-<arch>-glibc, @oven/bun-linux-<arch>) into the ignored cache folder .cache/<runtime>[-<version>]/.
# The version is a prefix npm resolves to its newest release (default: Deno 2, Bun 1). Skips a runtime whose cached
# binary already runs and is of that version. Prints the binary's path on stdout.
#
#   scripts/install-runtime.sh deno      # → /…/.cache/deno/node_modules/@deno/linux-x64-glibc/deno (newest 2.x)
#   scripts/install-runtime.sh deno 2.7  # → /…/.cache/deno-2.7/… (newest 2.7.x)
#   scripts/install-runtime.sh bun       # → /…/.cache/bun/node_modules/@oven/bun-linux-x64/bin/bun (newest 1.x)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runtime="${1:-}"
version="${2:-}"

case "$(uname -m)" in
  x86_64 | amd64) deno_arch=x64 bun_arch=x64 ;;
  aarch64 | arm64) deno_arch=arm64 bun_arch=aarch64 ;;
  *) echo "install-runtime: no npm build of Deno/Bun for $(uname -m)" >&2; exit 1 ;;
esac

case "$runtime" in
  deno) package="@deno/linux-$deno_arch-glibc" binary="node_modules/@deno/linux-$deno_arch-glibc/deno" ;;
  bun) package="@oven/bun-linux-$bun_arch" binary="node_modules/@oven/bun-linux-$bun_arch/bin/bun" ;;
  *) echo "usage: $0 deno|bun [version]" >&2; exit 2 ;;
esac
if [[ -z "$version" ]]; then
  dir="$root/.cache/$runtime"
  version="$([[ $runtime == deno ]] && echo 2 || echo 1)"
elif [[ "$version" =~ ^[0-9]+(\.[0-9]+){0,2}$ ]]; then
  dir="$root/.cache/$runtime-$version"
else
  echo "install-runtime: not a version: $version" >&2
  exit 2
fi
bin="$dir/$binary"

installed() { # the binary runs and is of that version (deno prints "deno 2.x.y …", bun "1.x.y")
  [[ -x "$bin" ]] && "$bin" --version 2>/dev/null | head -n1 | grep -Eq "^(deno )?${version//./\\.}(\.|\s|$)"
}

if installed; then
  echo "install-runtime: $runtime $("$bin" --version | head -n1) already in $dir" >&2
else
  echo "install-runtime: installing $package@$version into $dir" >&2
  rm -rf "$dir"
  mkdir -p "$dir"
  # A package.json of its own anchors npm here, so it never walks up into the workspace root.
  printf '{ "name": "%s-cache", "private": true }\n' "$runtime" >"$dir/package.json"
  for attempt in 1 2 3; do
    if npm install --no-save --no-package-lock --no-audit --no-fund --ignore-scripts --loglevel=error \
      --prefix "$dir" "$package@$version" >&2; then
      break
    fi
    if [[ $attempt == 3 ]]; then
      echo "install-runtime: npm install $package@$version failed" >&2
      exit 1
    fi
    echo "install-runtime: attempt $attempt failed, retrying" >&2
    sleep $((attempt * 5))
  done
  chmod +x "$bin" 2>/dev/null || true
  if ! installed; then
    echo "install-runtime: $bin missing or not $runtime $version after install" >&2
    exit 1
  fi
  echo "install-runtime: installed $runtime $("$bin" --version | head -n1)" >&2
fi
echo "$bin"
