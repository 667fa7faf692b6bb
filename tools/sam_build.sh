#!/usr/bin/env bash
# `sam build` of template.yaml. The Lambdas run python3.12 and SAM's Python builder wants
# that interpreter on PATH: take the first python3.12 that really runs (a pyenv shim for a
# version that is not selected does not), including pyenv's own installs. Under CI the build
# must run; on a machine without Python 3.12 this step says so and is skipped.
set -euo pipefail
SAM=${SAM:-sam}
found=""
for candidate in python3.12 "$HOME"/.pyenv/versions/3.12*/bin/python3.12 /usr/local/bin/python3.12 /usr/bin/python3.12 /opt/homebrew/bin/python3.12; do
  path=$(command -v "$candidate" 2>/dev/null) || continue
  if "$path" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' >/dev/null 2>&1; then
    found=$path
    break
  fi
done
if [ -z "$found" ]; then
  if [ "${CI:-}" = "true" ]; then
    echo "sam build: no working python3.12 interpreter found, and CI requires the build." >&2
    exit 1
  fi
  echo "SKIPPED sam build: no python3.12 on this machine (the Lambda runtime). Install Python 3.12 to run this step."
  exit 0
fi
echo "sam build with $found"
# A directory where `python3.12` is that interpreter, ahead of everything else on PATH.
shim_dir=$(mktemp -d)
trap 'rm -rf "$shim_dir"' EXIT
ln -s "$found" "$shim_dir/python3.12"
PATH="$shim_dir:$PATH" "$SAM" build --template template.yaml
