#!/usr/bin/env bash
# `sam build` of template.yaml. No Python 3.12 is needed on this machine: the functions have no
# third-party requirements (SAM copies their folders), and the MamoriLibrary layer's rdklib is
# installed by layer/Makefile for the runtime it runs on (CPython 3.12, arm64) by any python3
# with pip. SAM runs layer/Makefile with the `python3` first on PATH.
set -euo pipefail
SAM=${SAM:-sam}
command -v python3 >/dev/null || { echo "sam build: layer/Makefile needs a python3 with pip on PATH" >&2; exit 1; }
"$SAM" build --template template.yaml
