#!/usr/bin/env bash
# Installs the tools the checks in `make test` use, beside libtorch (run setup-libtorch.sh first):
# - the pinned Python packages of scripts/requirements-tools.txt (gRPC + protobuf for the Python
#   client, pytest, kubernetes-validate, kubectl with kustomize) into the cached .torch-venv;
# - promtool and prometheus from Debian's `prometheus` package when they are not on PATH.
# Idempotent: a stamp named after the requirements' hash skips pip when nothing changed.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.torch-venv"
requirements="$root/scripts/requirements-tools.txt"
[ -x "$venv/bin/python" ] || { echo "setup: $venv is missing; run scripts/setup-libtorch.sh" >&2; exit 1; }

stamp="$venv/.augmentd-tools-$(sha256sum "$requirements" | cut -c1-16)"
if [ ! -e "$stamp" ]; then
  echo "setup: installing the Python tools of $requirements" >&2
  "$venv/bin/pip" install --no-input --disable-pip-version-check -q -r "$requirements"
  rm -f "$venv"/.augmentd-tools-*
  touch "$stamp"
fi

if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null; then
  echo "setup: installing Debian's prometheus package (promtool, prometheus)" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y --no-install-recommends prometheus >/dev/null 2>&1 ||
    { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y --no-install-recommends prometheus >/dev/null; }
  command -v promtool >/dev/null || { echo "setup: promtool is still missing" >&2; exit 1; }
fi
echo "setup: tools ready: $(promtool --version 2>&1 | head -1); kubectl $("$venv/bin/kubectl" version --client 2>/dev/null | head -1)" >&2
