#!/usr/bin/env bash
# `make demo`: the method on Fashion-MNIST in the low-data regime (200 images per class), five
# ways with the same seed, subset and budget: no augmentation, hand-crafted (crop + flip), the
# two learned augmenters (the default `broad` variant), and the prior control (random draws
# from `broad`'s starting distribution, nothing learned). Prints the test accuracy of each and
# where the results are.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out="${AUGMENTD_DEMO_DIR:-$root/out/demo}"
data=/usr/share/datasets/fashion-mnist
bin="$root/target/release/augmentd"

if [ ! -f "$data/train-images-idx3-ubyte.gz" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "demo: installing Debian's dataset-fashion-mnist" >&2
  apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1; } || true
fi
data_flags=()
if [ -f "$data/train-images-idx3-ubyte.gz" ]; then
  dataset="Fashion-MNIST ($data), 200 images per class"
else
  dataset="SYNTHETIC gratings (Fashion-MNIST is not installed: apt-get install dataset-fashion-mnist)"
  echo "demo: NOTICE: $dataset" >&2
  data_flags=(--set data.source=synthetic --set data.normalization=computed
              --set 'data.synthetic={ classes = 10, per_class = 200, channels = 1, side = 28 }')
fi

rm -rf "$out"
mkdir -p "$out"
start_all=$(date +%s)
for mode in none handcrafted small_affine affine_color prior:affine_color; do
  baseline=none
  [ "$mode" = handcrafted ] && baseline=crop+flip
  name="${mode/:/-}"
  echo "demo: training mode $mode" >&2
  start=$(date +%s)
  "$bin" train --preset fmnist-small --quiet "${data_flags[@]}" \
    --set "augment.mode=\"$mode\"" --set "augment.baseline=$baseline" \
    --run-dir "$out/$name" > "$out/$name.log"
  echo $(( $(date +%s) - start )) > "$out/$name.seconds"
done

"$root/.torch-venv/bin/python" - "$out" "$dataset" "$(( $(date +%s) - start_all ))" <<'PY'
import json, sys, pathlib
out, dataset, total = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3]
print(f"\naugmentd demo: {dataset}; same seed, subset and epochs for every mode\n")
print(f"| mode | final test acc (%) | test acc at best val (%) | best val acc (%) | seconds |")
print(f"|---|---:|---:|---:|---:|")
for mode in ["none", "handcrafted", "small_affine", "affine_color", "prior-affine_color"]:
    records = [json.loads(l) for l in (out / mode / "records.jsonl").read_text().splitlines()]
    best = max(records, key=lambda r: r["val_acc"])
    test = lambda r: "-" if r["test_acc"] is None else f"{r['test_acc']:.2f}"
    secs = (out / f"{mode}.seconds").read_text().strip()
    print(f"| {mode} | {test(records[-1])} | {test(best)} | {best['val_acc']:.2f} | {secs} |")
print(f"\ntotal training time {total} s")
print(f"runs: {out}/<mode>/ (records.jsonl, accuracy.png, grids/epoch-*.png, checkpoints/)")
print(f"trained augmenters: {out}/small_affine/model.safetensors, {out}/affine_color/model.safetensors")
PY
