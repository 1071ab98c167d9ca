#!/usr/bin/python3
"""PyTorch twin of `fsrgan bench train`: the identical architecture, read from the JSON layer list fsrgan
writes from the networks its trainer trains (src/bench/layers.ts); one full GAN step = D step + G step,
Adam, non-saturating loss.
fsrgan computes in NHWC, PyTorch in NCHW: shapes map one to one, only `flatten` orders features
differently (channel-major here, channel-minor there), which changes no FLOP count and no timing.

Run as docs/engine.md says: /usr/bin/python3 (Debian's python3-torch), OPENBLAS_NUM_THREADS=1,
2 torch threads.
Usage: torch_twin.py ARCH.json [--steps N] [--warmup N] [--threads T] [--repeats R] [--serve | --describe]
With --serve it warms up, prints {"ready": true}, then for every stdin line `run N` times N steps and prints
one JSON object, so that the caller can alternate its own runs with these in one invocation; `quit` ends.
"""
import argparse, json, sys, time

import torch
import torch.nn as nn
import torch.nn.functional as F


class BiasReLU(nn.Module):
    """ReLU(x - b): the hidden-layer nonlinearity of docs/theory.md section 1."""

    def __init__(self, c):
        super().__init__()
        self.b = nn.Parameter(torch.zeros(c))

    def forward(self, x):
        return F.relu(x - self.b.view(1, -1, 1, 1))


class Reshape(nn.Module):
    def __init__(self, hwc):
        super().__init__()
        self.h, self.w, self.c = hwc

    def forward(self, x):
        return x.view(x.shape[0], self.c, self.h, self.w)


class SameConv(nn.Module):
    """TensorFlow 'same' convolution whose total padding is odd (e.g. k3 s2 on an even grid): TF pads the
    extra row/column at the bottom/right, which PyTorch's symmetric `padding` cannot express."""

    def __init__(self, cin, cout, k, s, bias):
        super().__init__()
        self.k, self.s = k, s
        self.conv = nn.Conv2d(cin, cout, k, s, padding=0, bias=bias)

    def forward(self, x):
        h, w = x.shape[2], x.shape[3]
        ph = max((-(-h // self.s) - 1) * self.s + self.k - h, 0)
        pw = max((-(-w // self.s) - 1) * self.s + self.k - w, 0)
        return self.conv(F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)))


def same_pad(k, s):
    """Symmetric padding equal to TF 'same' when k - s is even (the deconvolutions and k4 s2 convolutions)."""
    total = max(k - s, 0)
    return None if total % 2 else total // 2


def layer(spec):
    op = spec["op"]
    if op == "deconv":
        pad = 0
        if spec["pad"] == "same":
            pad = same_pad(spec["k"], spec["s"])
            if pad is None:
                raise ValueError(f"deconv 'same' with odd k - s (k={spec['k']}, s={spec['s']}) is not supported")
        return nn.ConvTranspose2d(spec["cin"], spec["cout"], spec["k"], spec["s"], padding=pad, bias=spec.get("bias", False))
    if op == "conv":
        bias = spec.get("bias", False)
        if spec["pad"] == "same":
            pad = same_pad(spec["k"], spec["s"])
            if pad is None:
                return SameConv(spec["cin"], spec["cout"], spec["k"], spec["s"], bias)
        else:
            pad = 0
        return nn.Conv2d(spec["cin"], spec["cout"], spec["k"], spec["s"], padding=pad, bias=bias)
    if op == "dense":
        return nn.Linear(spec["cin"], spec["cout"], bias=spec.get("bias", False))
    if op == "bn":
        return nn.BatchNorm2d(spec["c"])
    if op == "relu":
        return nn.ReLU()
    if op == "lrelu":
        return nn.LeakyReLU(spec.get("alpha", 0.2))
    if op == "tanh":
        return nn.Tanh()
    if op == "biasrelu":
        return BiasReLU(spec["c"])
    if op == "reshape":
        return Reshape(spec["shape"])
    if op == "flatten":
        return nn.Flatten()
    if op == "tap":
        return Net(spec["layers"])
    if op == "upsample-concat":
        return nn.Identity()
    raise ValueError(f"unknown op {op}")


class Net(nn.Module):
    """A layer list. `tap` runs its sub-list on the current activation and keeps the result aside (a frozen
    lower output head); `upsample-concat` replaces the activation with [upsample2x(tap), activation] along
    channels (the pair (x_{l-1}, x_l) a layerwise stage's D judges, docs/theory.md section 2)."""

    def __init__(self, specs):
        super().__init__()
        self.ops = [s["op"] for s in specs]
        self.mods = nn.ModuleList([layer(s) for s in specs])

    def forward(self, x):
        tap = None
        for op, m in zip(self.ops, self.mods):
            if op == "tap":
                tap = m(x)
            elif op == "upsample-concat":
                x = torch.cat([F.interpolate(tap, scale_factor=2, mode="nearest"), x], 1)
            else:
                x = m(x)
        return x


def trainable(specs, mods, frozen=False):
    """Parameters that train; layers with "frozen": true (and everything inside a frozen tap) do not."""
    params = []
    for s, m in zip(specs, mods):
        f = frozen or s.get("frozen", False)
        if s["op"] == "tap":
            params += trainable(s["layers"], m.mods, f)
            continue
        for p in m.parameters():
            p.requires_grad_(not f)
            if not f:
                params.append(p)
    return params


def build(specs):
    net = Net(specs)
    return net, trainable(specs, net.mods)


def gan_step(G, D, dparams, optG, optD, real, n, zdim):
    """One D step then one G step, non-saturating loss; returns (lossD, lossG) as tensors."""
    z = torch.randn(n, zdim)
    # D step: softplus(-D(real)) + softplus(D(fake)), the non-saturating objective's D side.
    with torch.no_grad():
        fake = G(z)
    lossD = F.softplus(-D(real)).mean() + F.softplus(D(fake)).mean()
    optD.zero_grad(set_to_none=True)
    lossD.backward()
    optD.step()
    # G step: softplus(-D(G(z))); D's weight gradients are not needed, so they are not computed
    # (the TypeScript side differentiates with respect to G's variables only).
    for p in dparams:
        p.requires_grad_(False)
    lossG = F.softplus(-D(G(torch.randn(n, zdim)))).mean()
    optG.zero_grad(set_to_none=True)
    lossG.backward()
    optG.step()
    for p in dparams:
        p.requires_grad_(True)
    return lossD, lossG


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("arch")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--serve", action="store_true")
    ap.add_argument("--describe", action="store_true", help="print output shapes and parameter counts, then exit")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    arch = json.load(open(args.arch))
    n, zdim = arch["batch"], arch["zDim"]
    G, gparams = build(arch["G"])
    D, dparams = build(arch["D"])
    optG = torch.optim.Adam(gparams, lr=arch.get("lrG", 2e-4), betas=(0.5, 0.999))
    optD = torch.optim.Adam(dparams, lr=arch.get("lrD", 2e-4), betas=(0.5, 0.999))
    h, w, c = arch["image"]
    real = torch.randn(n, c, h, w)
    if args.describe:
        # What the TypeScript side checks against its own network (test/bench-train.test.ts).
        count = lambda ps: sum(p.numel() for p in ps)
        with torch.no_grad():
            g_out = G(torch.randn(2, zdim))
        print(json.dumps({"G": {"out": list(g_out.shape[1:]), "trainable": count(gparams), "total": count(G.parameters())},
                          "D": {"out": list(D(real[:2]).shape[1:]), "trainable": count(dparams), "total": count(D.parameters())}}))
        return 0

    def step():
        gan_step(G, D, dparams, optG, optD, real, n, zdim)

    def timed(steps):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        dt = (time.perf_counter() - t0) / steps
        return {"arch": arch["name"], "imagesPerSec": n / dt, "secondsPerStep": dt, "steps": steps,
                "threads": args.threads, "torch": torch.__version__}

    for _ in range(args.warmup):
        step()
    if args.serve:
        print(json.dumps({"ready": True, "torch": torch.__version__}), flush=True)
        for line in sys.stdin:
            cmd = line.split()
            if not cmd or cmd[0] == "quit":
                break
            if cmd[0] == "run":
                print(json.dumps(timed(int(cmd[1]))), flush=True)
        return 0
    for _ in range(args.repeats):
        print(json.dumps(timed(args.steps)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
