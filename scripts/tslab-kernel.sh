#!/bin/sh
# Starts the tslab kernel for the project-local kernelspec (.jupyter/kernels/fsrgan/kernel.json).
# Why a wrapper: tslab compiles every cell with rootDir = the kernel's working directory, and Jupyter starts
# kernels in the notebook's folder (notebooks/), so `import ... from './src/...'` would fail with "not under
# rootDir". The kernel therefore runs from the repository root; notebooks import `./src/...` and read
# `runs/...` relative to the root, like the CLI.
# Usage (by Jupyter): tslab-kernel.sh <connection_file>
set -e
case "$1" in
  /*) cf="$1" ;;
  *) cf="$(pwd)/$1" ;;
esac
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
if [ ! -x node_modules/.bin/tslab ]; then
  echo "fsrgan kernel: node_modules/.bin/tslab is missing; run 'npm ci' in $root first." >&2
  exit 1
fi
# The real binary, not npx: npx adds about a second per kernel start and may warn on stderr.
exec node_modules/.bin/tslab kernel --config-path "$cf"
