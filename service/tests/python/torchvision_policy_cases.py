"""Writes the torchvision reference cases of the policy operations (service/src/data/policy/).

Every operation of TrivialAugmentWide and RandAugment, applied by torchvision's own `_apply_op`
(nearest interpolation, zero fill) to seeded random uint8 images, one grey and one colour (bytes as hex, C·H·W), at
bins 5 and 30 of both policies' magnitude spaces, each sign. The Rust test
`data::policy::torchvision_parity` must reproduce every output byte.

Usage (torchvision 0.26.0 pairs with the project's torch 2.11.0; it is not part of `make setup`):
    pip install --target /tmp/tv --no-deps torchvision==0.26.0
    PYTHONPATH=/tmp/tv .torch-venv/bin/python service/tests/python/torchvision_policy_cases.py \
        > service/src/data/policy/torchvision_cases.json
"""
import json
import sys

import torch
import torchvision
from torchvision.transforms import InterpolationMode, RandAugment, TrivialAugmentWide
from torchvision.transforms.autoaugment import _apply_op

BINS = [5, 30]
# Grey: enough pixels for equalize to act (255 below the brightest level); colour: small.
SHAPES = [(1, 16, 17), (3, 8, 9)]


def main():
    generator = torch.Generator().manual_seed(13)
    cases = []
    for shape in SHAPES:
        image = torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator)
        # A darker block and a flat stripe, so contrast, equalize and autocontrast see structure.
        image[:, 2:6, 3:7] //= 4
        image[:, -2:, :] = 200
        spaces = {
            "wide": TrivialAugmentWide()._augmentation_space(31),
            "randaugment": RandAugment()._augmentation_space(31, (shape[1], shape[2])),
        }
        outputs = []
        for space, table in spaces.items():
            for op, (magnitudes, signed) in table.items():
                if magnitudes.ndim == 0:
                    bins, signs = [None], [1]
                else:
                    bins, signs = BINS, ([1, -1] if signed else [1])
                for b in bins:
                    for sign in signs:
                        magnitude = 0.0 if b is None else float(magnitudes[b].item()) * sign
                        out = _apply_op(image, op, magnitude, InterpolationMode.NEAREST, None)
                        outputs.append({
                            "space": space,
                            "op": op,
                            "bin": b,
                            "sign": sign,
                            "magnitude": magnitude,
                            "output": bytes(out.flatten().tolist()).hex(),
                        })
        cases.append({"shape": list(shape), "input": bytes(image.flatten().tolist()).hex(), "cases": outputs})
    json.dump({"torchvision": torchvision.__version__, "torch": torch.__version__, "images": cases},
              sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
