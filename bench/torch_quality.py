#!/usr/bin/python3
"""PyTorch side of `fsrgan bench quality`: trains the DCGAN of an architecture file (the layer list
bench/torch_twin.py builds, written by fsrgan from its dcgan model family: src/bench/layers.ts) on real images and writes generated samples, so that fsrgan can
measure them with its own patch SWD next to its own generators trained on the same images.

Recipe (the DCGAN paper's, Radford et al. 2016, as fsrgan's trainer runs its dcgan family): non-saturating loss, one D
step then one G step per iteration, Adam lr from the arch file (default 2e-4) with betas (0.5, 0.999),
batch from the arch file, weights N(0, 1/fan_in) (fsrgan's init; the paper's N(0, 0.02) is the same scale
for 4x4x64 filters), BatchNorm with batch statistics, also when sampling (as fsrgan does).

Input: --data FILE of float32 images [N, H, W, C] in [-1, 1] (NHWC, little-endian), --n N.
Output: --out FILE of float32 samples [M, H, W, C] (NHWC); one JSON line per --log-every steps on stdout,
then {"done": true, ...} with the wall time.
Run with /usr/bin/python3 (Debian's python3-torch), OPENBLAS_NUM_THREADS=1.
"""
import argparse, json, math, sys, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_twin import build, gan_step


def fan_in_init(net):
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            fan_in = m.weight[0].numel()
            nn.init.normal_(m.weight, 0.0, 1.0 / math.sqrt(fan_in))
        elif isinstance(m, nn.ConvTranspose2d):
            # weight [cin, cout, k, k]; about (k/s)^2 input positions feed each output, as fsrgan's net.ts.
            cin, k, s = m.weight.shape[0], m.weight.shape[2], m.stride[0]
            nn.init.normal_(m.weight, 0.0, 1.0 / math.sqrt(max(1.0, cin * k * k / (s * s))))
        if getattr(m, "bias", None) is not None and isinstance(m.bias, torch.Tensor):
            nn.init.zeros_(m.bias)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("arch")
    ap.add_argument("--data", required=True)
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--samples", type=int, default=2048)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--log-every", type=int, default=200)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    arch = json.load(open(args.arch))
    h, w, c = arch["image"]
    data = np.fromfile(args.data, dtype="<f4")
    if data.size != args.n * h * w * c:
        raise SystemExit(f"{args.data}: {data.size} floats, expected {args.n} x {h} x {w} x {c}")
    real_all = torch.from_numpy(data.reshape(args.n, h, w, c)).permute(0, 3, 1, 2).contiguous()
    n, zdim = arch["batch"], arch["zDim"]
    G, gparams = build(arch["G"])
    D, dparams = build(arch["D"])
    fan_in_init(G)
    fan_in_init(D)
    optG = torch.optim.Adam(gparams, lr=arch.get("lrG", 2e-4), betas=(0.5, 0.999))
    optD = torch.optim.Adam(dparams, lr=arch.get("lrD", 2e-4), betas=(0.5, 0.999))
    order, pos = rng.permutation(args.n), 0
    t0 = time.perf_counter()
    for step in range(1, args.steps + 1):
        if pos + n > args.n:
            order, pos = rng.permutation(args.n), 0
        real = real_all[order[pos:pos + n]]
        pos += n
        lossD, lossG = gan_step(G, D, dparams, optG, optD, real, n, zdim)
        if step % args.log_every == 0 or step == args.steps:
            print(json.dumps({"step": step, "lossD": lossD.item(), "lossG": lossG.item(), "seconds": time.perf_counter() - t0}), flush=True)
    wall = time.perf_counter() - t0
    outs = []
    with torch.no_grad():
        for i in range(0, args.samples, n):
            outs.append(G(torch.randn(n, zdim)))
    x = torch.cat(outs)[: args.samples].permute(0, 2, 3, 1).contiguous().numpy().astype("<f4")
    x.tofile(args.out)
    print(json.dumps({"done": True, "seconds": wall, "steps": args.steps, "images": args.steps * n, "torch": torch.__version__}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
