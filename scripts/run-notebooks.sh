#!/usr/bin/env bash
# Executes notebooks headless with Jupyter nbconvert and the project-local tslab kernelspec (docs/notebooks.md).
#   scripts/run-notebooks.sh                     every notebooks/*.ipynb -> out/notebooks/ (executed copies)
#   scripts/run-notebooks.sh --inplace [NB...]   execute and save the outputs into the notebooks themselves
#   scripts/run-notebooks.sh --out DIR [NB...]   executed copies into DIR
# FSRGAN_SCALE=quick makes notebooks small and fast (the tests use it); the default is the full scale.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/out/notebooks"
inplace=0
nbs=()
while [ $# -gt 0 ]; do
  case "$1" in
    --inplace) inplace=1 ;;
    --out) out="$(mkdir -p "$2" && cd "$2" && pwd)"; shift ;;
    -h|--help) sed -n 2,6p "$0"; exit 0 ;;
    *) nbs+=("$(cd "$(dirname "$1")" && pwd)/$(basename "$1")") ;;
  esac
  shift
done
if [ ${#nbs[@]} -eq 0 ]; then nbs=("$root"/notebooks/*.ipynb); fi

if ! jupyter nbconvert --version >/dev/null 2>&1; then
  echo "run-notebooks: Jupyter nbconvert is missing; install it with" >&2
  echo "  sudo apt-get install -y jupyter-nbconvert python3-nbclient jupyter-client" >&2
  exit 1
fi
export JUPYTER_PATH="$root/.jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
export JUPYTER_RUNTIME_DIR="$root/.jupyter/runtime"
mkdir -p "$JUPYTER_RUNTIME_DIR"

for nb in "${nbs[@]}"; do
  start=$(date +%s)
  if [ $inplace = 1 ]; then
    # Drop per-cell execution timestamps so that re-running a notebook changes only its outputs.
    jupyter nbconvert --to notebook --execute --inplace \
      --ClearMetadataPreprocessor.enabled=True --ClearMetadataPreprocessor.clear_notebook_metadata=False "$nb"
  else
    jupyter nbconvert --to notebook --execute --output-dir "$out" "$nb"
  fi
  echo "run-notebooks: $(basename "$nb") done in $(( $(date +%s) - start )) s"
done
