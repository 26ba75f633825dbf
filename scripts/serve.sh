#!/usr/bin/env bash
# `make serve`: runs augmentd locally with sensible defaults and prints how to call it.
# State lives under the checkout (.augmentd/state); the data dir is Debian's dataset folder
# when the Fashion-MNIST package is installed, else .augmentd/data (put datasets there).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
state="${AUGMENTD_STATE_DIR:-$root/.augmentd/state}"
if [[ -z "${AUGMENTD_DATA_DIR:-}" ]]; then
  if [[ -d /usr/share/datasets/fashion-mnist ]]; then
    AUGMENTD_DATA_DIR=/usr/share/datasets
  else
    AUGMENTD_DATA_DIR="$root/.augmentd/data"
    mkdir -p "$AUGMENTD_DATA_DIR"
  fi
fi
export AUGMENTD_DATA_DIR
listen="${AUGMENTD_LISTEN:-127.0.0.1:50051}"
metrics="${AUGMENTD_METRICS_LISTEN:-127.0.0.1:9090}"
mkdir -p "$state"
cat <<MSG
augmentd: state dir $state, data dir $AUGMENTD_DATA_DIR
Call it (in another terminal):
  target/release/augmentctl --url http://$listen health
  target/release/augmentctl --url http://$listen train start --preset fmnist-small --dataset fashion-mnist --set epochs=2 --watch
  target/release/augmentctl --url http://$listen models list
  target/release/augmentctl --url http://$listen augment --input some-images/ --out augmented/ --copies 4
  grpcurl -plaintext $listen list
  curl -s http://$metrics/metrics | grep '^augmentd_'
Stop with Ctrl-C (in-flight calls drain, running jobs resume at the next start).
MSG
exec "$root/target/release/augmentd" serve --listen "$listen" --metrics-listen "$metrics" \
  --state-dir "$state" "$@"
