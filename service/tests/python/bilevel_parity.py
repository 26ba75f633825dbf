"""Independent PyTorch implementation of one augmentd bilevel step, for the parity test.

Usage: bilevel_parity.py DIR. DIR holds what the Rust side exported (config.json, initial
weights, batches and noise as safetensors); this script performs the same step the way the
reference code base does it (torch.autograd.grad with create_graph, a virtual momentum step,
torch.optim.SGD for both real updates) and writes DIR/pytorch.safetensors for Rust to compare.
"""
import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file


def small_cnn(params, buffers, x):
    out = x
    for i in (1, 2, 3):
        out = F.conv2d(out, params[f"conv{i}.weight"], None, stride=1, padding=1)
        out = F.batch_norm(out, buffers[f"bn{i}.running_mean"], buffers[f"bn{i}.running_var"],
                           params[f"bn{i}.weight"], params[f"bn{i}.bias"],
                           training=True, momentum=0.1, eps=1e-5)
        out = F.relu(out)
        if i < 3:
            out = F.max_pool2d(out, 2, 2)
    return F.linear(out.mean(dim=(-2, -1)), params["fc.weight"], params["fc.bias"])


def rgb_to_hsv(img):
    r, g, b = img[:, 0], img[:, 1], img[:, 2]
    maxc = img.max(1)[0]
    minc = img.min(1)[0]
    delta = maxc - minc
    s = delta / (maxc + 1e-7)
    rc = (maxc - r) / (delta + 1e-7)
    gc = (maxc - g) / (delta + 1e-7)
    bc = (maxc - b) / (delta + 1e-7)
    h = 4.0 + gc - rc
    h = torch.where(g == maxc, 2.0 + rc - bc, h)
    h = torch.where(r == maxc, bc - gc, h)
    h = torch.where(minc == maxc, torch.zeros_like(h), h)
    h = (h / 6.0) % 1.0
    return torch.stack([h, s, maxc], dim=1)


def hsv_to_rgb(hsv):
    h, s, v = hsv[:, 0], hsv[:, 1], hsv[:, 2]
    hi = torch.floor(h * 6)
    f = h * 6 - hi
    p = v * (1 - s)
    q = v * (1 - f * s)
    t = v * (1 - (1 - f) * s)
    sector = hi % 6
    table = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    channels = []
    for c in range(3):
        out = torch.zeros_like(v)
        for k, row in enumerate(table):
            out = torch.where(sector == k, row[c], out)
        channels.append(out)
    return torch.stack(channels, dim=1)


def brightness(img, c):
    return torch.clamp(img * (1 + c.view(-1, 1, 1, 1)), 0, 1)


def shift(img, c):
    return torch.clamp(img + c.view(-1, 1, 1, 1), 0, 1)


def saturation(img, c):
    hsv = rgb_to_hsv(img)
    s = torch.clamp(hsv[:, 1:2] * (1 + c.view(-1, 1, 1, 1)), 0, 1)
    return hsv_to_rgb(torch.cat([hsv[:, 0:1], s, hsv[:, 2:3]], dim=1))


def hue(img, c):
    hsv = rgb_to_hsv(img)
    h = torch.clamp(hsv[:, 0:1] * (1 + 0.5 * c.view(-1, 1, 1, 1)), 0, 1)
    return hsv_to_rgb(torch.cat([h, hsv[:, 1:3]], dim=1))


COLOR_OPS = [brightness, shift, saturation, hue]


def augment(cfg, theta, x, z, masks, order):
    kind = cfg["augmenter"]
    names = ["lin1", "lin2", "lin3"] if kind == "affine_color" else ["fc_loc.0", "fc_loc.3", "lin1"]
    h = z
    for i, name in enumerate(names):
        h = F.linear(h, theta[f"{name}.weight"], theta[f"{name}.bias"])
        if i < 2:
            h = F.relu(h)
            if masks is not None:
                h = h * masks[i]
    n, channels = x.shape[0], x.shape[1]
    eye = torch.eye(2, 3, dtype=x.dtype).unsqueeze(0).repeat(n, 1, 1)
    colour = None
    if kind == "affine_color":
        h = torch.tanh(h)
        matrix = h[:, :6].view(-1, 2, 3) + eye
        colour = h[:, 6:]
    elif kind == "small_affine":
        matrix = h.view(-1, 2, 3) + eye
    elif kind == "small_affine:translation":
        matrix = eye
        matrix[:, :, 2] = torch.tanh(h)
    elif kind == "small_affine:scale":
        matrix = eye
        matrix[:, 0, 0] = h[:, 0]
        matrix[:, 1, 1] = h[:, 1]
    elif kind == "small_affine:rotation":
        matrix = eye
        matrix[:, 0, 0] = h[:, 0]
        matrix[:, 0, 1] = h[:, 1]
        matrix[:, 1, 0] = h[:, 2]
        matrix[:, 1, 1] = h[:, 3]
    else:
        raise ValueError(kind)
    mean = torch.tensor(cfg["mean"], dtype=x.dtype).view(1, channels, 1, 1)
    std = torch.tensor(cfg["std"], dtype=x.dtype).view(1, channels, 1, 1)
    grid = F.affine_grid(matrix, list(x.size()), align_corners=True)
    y = F.grid_sample(x * std, grid, align_corners=True)
    if colour is None:
        return y / std
    img = y + mean
    for op in order:
        img = COLOR_OPS[op](img, colour[:, op])
    return (img - mean) / std


def main(folder):
    cfg = json.loads((folder / "config.json").read_text())
    weights0 = load_file(folder / "weights.safetensors")
    buffers = load_file(folder / "buffers.safetensors")
    theta0 = load_file(folder / "theta.safetensors")
    momentum0 = load_file(folder / "momentum.safetensors")
    data = load_file(folder / "inputs.safetensors")
    wnames, tnames = cfg["weight_names"], cfg["theta_names"]

    weights = {n: weights0[n].clone().requires_grad_(True) for n in wnames}
    theta = {n: theta0[n].clone().requires_grad_(True) for n in tnames}
    c, a = cfg["classifier"], cfg["augmenter_opt"]
    opt_c = torch.optim.SGD([weights[n] for n in wnames], lr=c["lr"], momentum=c["momentum"],
                            weight_decay=c["weight_decay"])
    opt_a = torch.optim.SGD([theta[n] for n in tnames], lr=a["lr"], momentum=a["momentum"],
                            weight_decay=a["weight_decay"])

    current = dict(weights)
    momentum = {n: momentum0[n].detach() for n in wnames}
    real_grads = []
    for k in range(cfg["inner_steps"]):
        masks = None
        if f"mask1_{k}" in data:
            masks = (data[f"mask1_{k}"], data[f"mask2_{k}"])
        order = data[f"order_{k}"].tolist() if f"order_{k}" in data else []
        augmented = augment(cfg, theta, data[f"train_images_{k}"], data[f"z_{k}"], masks, order)
        loss = F.cross_entropy(small_cnn(current, buffers, augmented), data[f"train_labels_{k}"])
        grads = torch.autograd.grad(loss, [current[n] for n in wnames], create_graph=True)
        next_weights, next_momentum = {}, {}
        for n, g in zip(wnames, grads):
            m = c["momentum"] * momentum[n] + g if c["momentum"] != 0 else g
            next_momentum[n] = m
            next_weights[n] = current[n] - c["lr"] * m
        real_grads.append([g.detach() for g in grads])
        current, momentum = next_weights, next_momentum
    val_loss = F.cross_entropy(small_cnn(current, buffers, data["val_images"]), data["val_labels"])
    theta_grads = torch.autograd.grad(val_loss, [theta[n] for n in tnames])

    out = {f"theta_grad.{n}": g.detach().contiguous() for n, g in zip(tnames, theta_grads)}
    for n, g in zip(tnames, theta_grads):
        theta[n].grad = g.detach()
    opt_a.step()
    for grads in real_grads:
        for n, g in zip(wnames, grads):
            weights[n].grad = g
        opt_c.step()
    out.update({f"theta.{n}": theta[n].detach().contiguous() for n in tnames})
    out.update({f"weights.{n}": weights[n].detach().contiguous() for n in wnames})
    out.update({f"buffers.{n}": t.contiguous() for n, t in buffers.items()})
    out["val_loss"] = val_loss.detach().reshape(1)
    save_file(out, folder / "pytorch.safetensors")


if __name__ == "__main__":
    torch.manual_seed(0)
    main(Path(sys.argv[1]))
