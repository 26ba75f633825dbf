#!/usr/bin/env bash
# Installs libtorch (PyPI torch==2.11.0, the pair of tch 0.24.0) into a virtualenv cached outside
# the checkout, and links it at .torch-venv so the Makefile, build scripts and tests find it.
# Idempotent: a cache that already holds the right torch is reused (a fresh clone costs seconds).
set -euo pipefail

TORCH_VERSION=2.11.0
SAFETENSORS_VERSION=0.8.0
NUMPY_VERSION=2.4.6
cache="${AUGMENTD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/augmentd}"
venv="$cache/venv-torch-$TORCH_VERSION"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${AUGMENTD_PYTHON:-python3}"

venv_ok() {
  [ -x "$venv/bin/python" ] && "$venv/bin/python" - "$TORCH_VERSION" <<'PY' >/dev/null 2>&1
import sys, torch, safetensors, numpy
sys.exit(0 if torch.__version__.split("+")[0] == sys.argv[1] else 1)
PY
}

if ! venv_ok; then
  echo "setup: installing torch==$TORCH_VERSION into $venv (about 4.6 GB, a few minutes)" >&2
  mkdir -p "$cache"
  [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
  "$venv/bin/pip" install --no-input --disable-pip-version-check \
    "torch==$TORCH_VERSION" "safetensors==$SAFETENSORS_VERSION" "numpy==$NUMPY_VERSION"
  venv_ok || { echo "setup: torch $TORCH_VERSION did not import from $venv" >&2; exit 1; }
fi

ln -sfn "$venv" "$root/.torch-venv"
echo "setup: libtorch ready: $("$venv/bin/python" -c 'import torch,os;print(torch.__version__, os.path.dirname(torch.__file__)+"/lib")')" >&2
