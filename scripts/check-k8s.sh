#!/usr/bin/env bash
# Checks the Kubernetes deployment (deploy/k8s, deploy/prometheus-adapter) without a cluster:
# - each kustomization (overlays cpu and gpu, the training Job, the datasets loader) renders
#   with `kubectl kustomize`, and its built-in objects pass `kubernetes-validate --strict`
#   against Kubernetes $K8S_VERSION (unknown fields and wrong types are errors);
# - custom resources (ServiceMonitor, PrometheusRule) pass the strict schemas in
#   deploy/k8s/schemas, and PrometheusRule groups pass `promtool check rules`;
# - the repository's deployment rules (deploy/k8s/tools/check_manifests.py policy);
# - the prometheus-adapter rules serve the HPA's metric and their PromQL parses;
# - a self-test: typo'd and mistyped objects are rejected, so the checks above can fail.
# Usage: scripts/check-k8s.sh [--self-test]   (exits non-zero on any problem)
# Tools come from `make setup` (kubectl and kubernetes-validate in .torch-venv, promtool).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# kubernetes-validate 1.37.0 ships schemas for Kubernetes 1.25 to 1.37; 1.33 is the oldest
# version these manifests support (native gRPC probes, autoscaling/v2, policy/v1 all GA).
K8S_VERSION="${K8S_VERSION:-1.33.0}"
venv="${AUGMENTD_TOOLS_VENV:-$root/.torch-venv}"
KUBECTL="$venv/bin/kubectl"
KUBERNETES_VALIDATE="$venv/bin/kubernetes-validate"
PYTHON="$venv/bin/python"
PROMTOOL="${PROMTOOL:-$(command -v promtool || true)}"
CHECK="$root/deploy/k8s/tools/check_manifests.py"
TARGETS=(overlays/cpu overlays/gpu jobs/train jobs/load-datasets)

missing=()
for tool in "$KUBECTL" "$KUBERNETES_VALIDATE" "$PYTHON"; do
  [ -x "$tool" ] || missing+=("$tool")
done
[ -n "$PROMTOOL" ] || missing+=("promtool")
if [ "${#missing[@]}" -gt 0 ]; then
  echo "check-k8s: missing ${missing[*]}: run \`make setup\` first" >&2
  exit 2
fi
"$PYTHON" -c 'import yaml, jsonschema, kubernetes_validate' 2>/dev/null ||
  { echo "check-k8s: $PYTHON lacks PyYAML/jsonschema/kubernetes-validate: run \`make setup\`" >&2; exit 2; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
failures=0
passes=0
step() {  # step NAME COMMAND...: runs a check, counts it
  local name="$1"
  shift
  if "$@"; then
    passes=$((passes + 1))
  else
    failures=$((failures + 1))
    echo "FAIL: $name" >&2
  fi
}
check_py() { "$PYTHON" "$CHECK" --k8s-version "$K8S_VERSION" --promtool "$PROMTOOL" "$@"; }

validate_builtin() {  # kubernetes-validate, with "no schema" warnings counted as failures
  local out
  out="$("$KUBERNETES_VALIDATE" --strict -k "$K8S_VERSION" "$1" 2>&1)" && ! grep -q '^WARN' <<<"$out" ||
    { printf '%s\n' "$out" | grep -v '^INFO' >&2; return 1; }
  sed -n 's/^INFO .* passed for resource \([^ ]*\) against version \(.*\)$/  ok \1 (Kubernetes \2, strict)/p' <<<"$out"
}

if [ "${1:-}" != "--self-test" ]; then
  echo "check-k8s: kubectl $("$KUBECTL" version --client 2>/dev/null | sed -n 's/^Client Version: //p'), kubernetes-validate $("$KUBERNETES_VALIDATE" --version) against Kubernetes $K8S_VERSION"
  for target in "${TARGETS[@]}"; do
    name="${target//\//-}"
    echo "== deploy/k8s/$target"
    if ! "$KUBECTL" kustomize "deploy/k8s/$target" >"$tmp/$name.yaml"; then
      echo "FAIL: kubectl kustomize deploy/k8s/$target" >&2
      failures=$((failures + 1))
      continue
    fi
    check_py split "$tmp/$name.yaml" "$tmp/$name.builtin.yaml" "$tmp/$name.custom.yaml"
    step "$target: kubernetes-validate" validate_builtin "$tmp/$name.builtin.yaml"
    if [ -s "$tmp/$name.custom.yaml" ] && grep -q kind "$tmp/$name.custom.yaml"; then
      step "$target: custom resources" check_py crs "$tmp/$name.custom.yaml"
    fi
    step "$target: deployment rules" check_py policy "$tmp/$name.yaml" --target "deploy/k8s/$target"
  done

  # The PrometheusRule is validated even before the base lists it.
  rule="deploy/k8s/base/prometheusrule.yaml"
  if [ -f "$rule" ]; then
    echo "== $rule"
    grep -qE '^\s*-\s*prometheusrule\.yaml\s*$' deploy/k8s/base/kustomization.yaml ||
      echo "  note: $rule is not listed in deploy/k8s/base/kustomization.yaml (resources)"
    step "$rule: schema" check_py crs "$rule"
  fi

  echo "== deploy/prometheus-adapter/values.yaml"
  step "prometheus-adapter rules" check_py adapter
fi

echo "== self-test (each broken object must be rejected)"
"$KUBECTL" kustomize deploy/k8s/overlays/cpu >"$tmp/sample.yaml"
step "self-test" check_py self-test --kubernetes-validate "$KUBERNETES_VALIDATE" --sample "$tmp/sample.yaml"

echo "check-k8s: $passes passed, $failures failed"
[ "$failures" -eq 0 ]
