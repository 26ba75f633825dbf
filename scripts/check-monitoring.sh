#!/usr/bin/env bash
# Checks augmentd's monitoring files; exits non-zero on any problem:
# - deploy/prometheus/rules.yml is valid (`promtool check rules`);
# - its unit tests pass: each alert fires and stays silent when it should
#   (`promtool test rules deploy/prometheus/tests/*.yml`);
# - deploy/k8s/base/prometheusrule.yaml is what render_prometheusrule.py makes of rules.yml;
# - deploy/grafana/augmentd.json is valid JSON.
# promtool is Debian's prometheus package and PyYAML is in .torch-venv: `make setup` installs
# both. tests/prometheus_stack.rs checks the rest against a live server (cargo test).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

fail() {
  echo "check-monitoring: $*" >&2
  exit 1
}

promtool="${AUGMENTD_PROMTOOL:-$(command -v promtool || true)}"
[ -n "$promtool" ] && [ -x "$promtool" ] ||
  fail "promtool not found (set AUGMENTD_PROMTOOL or put it on PATH): run \`make setup\`"
python="${AUGMENTD_TEST_PYTHON:-$root/.torch-venv/bin/python}"
"$python" -c 'import yaml' 2>/dev/null ||
  fail "$python cannot import yaml (PyYAML): run \`make setup\`"

echo "== promtool check rules deploy/prometheus/rules.yml"
"$promtool" check rules deploy/prometheus/rules.yml || fail "rules.yml is invalid"

echo "== promtool test rules deploy/prometheus/tests/*.yml"
"$promtool" test rules deploy/prometheus/tests/*.yml || fail "a rules unit test failed"

echo "== render_prometheusrule.py --check"
"$python" deploy/prometheus/render_prometheusrule.py --check ||
  fail "deploy/k8s/base/prometheusrule.yaml is out of date"

echo "== deploy/grafana/augmentd.json"
"$python" -m json.tool deploy/grafana/augmentd.json >/dev/null ||
  fail "deploy/grafana/augmentd.json is not valid JSON"

echo "check-monitoring: all monitoring checks passed"
