#!/usr/bin/env python3
"""ParaGRU (shared/DESIGN.md section 5) written with PyTorch on the CPU, as a plain sequential loop
over time: the baseline the parascan bench compares its native cells with.

    python3 bench/pytorch/paragru.py [--batch 4] [--length 8192] [--size 64] [--heads 1]
                                     [--reps 3] [--threads 2] [--data DIR] [--json]

The input projection P = x.W + b (per head) is one einsum before the loop, as a PyTorch user would
write it; the loop then runs the cell step by step:

    z = sigmoid(A_z h + P_z), r = sigmoid(A_r h + P_r), c = tanh(A_c (h r) + P_c), h = z c + (1 - z) h

Timed: the forward without autograd, and forward + backward (autograd through the loop, loss
sum(y * dy)). Median of --reps runs after one warm-up.

--data DIR: a directory the parascan bench wrote (meta.json and raw little-endian float32 files
x, A, B, b, dy and parascan's own results y, dx, dA, dB, db). The script then uses those exact
weights and inputs, and checks that PyTorch's y and gradients equal parascan's: it prints the
largest error relative to the largest reference value, and exits with status 3 if one exceeds 1e-4.
Without --data it makes random weights and only times.
"""
import argparse
import json
import os
import statistics
import sys
import time

try:
    import numpy as np
    import torch
except ImportError as e:  # the bench case reports this line and skips
    print(f"SKIP: PyTorch is not installed for {sys.executable} ({e}); Debian: sudo apt-get install -y python3-torch", file=sys.stderr)
    sys.exit(2)


def project(x, W, b, heads):
    """x [B, T, Din], W [H, Din/H, G, D/H], b [G, D] -> P [B, T, G, D]."""
    Bn, Tn, Din = x.shape
    H, Di, G, Dh = W.shape
    xh = x.reshape(Bn, Tn, H, Di)
    P = torch.einsum("bthi,higj->btghj", xh, W).reshape(Bn, Tn, G, H * Dh)
    return P + b


def paragru_loop(P, A):
    """The sequential recurrence from a zero state; P [B, T, 3, D], A [3, D] -> y [B, T, D]."""
    Bn, Tn, _, D = P.shape
    h = P.new_zeros(Bn, D)
    Az, Ar, Ac = A[0], A[1], A[2]
    ys = []
    # unbind: one view per step whose backward is one stack (indexing P[:, t] would scatter a full
    # [B, T, 3, D] gradient per step, O(T^2) work in the backward)
    for p in P.unbind(dim=1):
        z = torch.sigmoid(Az * h + p[:, 0])
        r = torch.sigmoid(Ar * h + p[:, 1])
        c = torch.tanh(Ac * (h * r) + p[:, 2])
        h = z * c + (1 - z) * h
        ys.append(h)
    return torch.stack(ys, dim=1)


def load(data, name, shape):
    a = np.fromfile(os.path.join(data, name + ".f32"), dtype="<f4")
    return torch.from_numpy(a.reshape(shape).copy())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--length", type=int, default=8192)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--heads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", default=None)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.data:
        meta = json.load(open(os.path.join(args.data, "meta.json")))
        Bn, Tn, D, H = meta["batch"], meta["length"], meta["size"], meta["heads"]
    else:
        Bn, Tn, D, H = args.batch, args.length, args.size, args.heads
    Din, G = D, 3
    if args.data:
        x = load(args.data, "x", (Bn, Tn, Din))
        A = load(args.data, "A", (G, D))
        W = load(args.data, "B", (H, Din // H, G, D // H))
        b = load(args.data, "b", (G, D))
        dy = load(args.data, "dy", (Bn, Tn, D))
    else:
        g = torch.Generator().manual_seed(1)
        x = torch.rand(Bn, Tn, Din, generator=g) * 2 - 1
        A = (torch.rand(G, D, generator=g) * 2 - 1) * 0.5
        W = (torch.rand(H, Din // H, G, D // H, generator=g) * 2 - 1) * (6 / (Din // H + D)) ** 0.5
        b = -torch.linspace(0, 2, G * D).reshape(G, D)
        dy = torch.rand(Bn, Tn, D, generator=g) * 2 - 1

    def forward():
        with torch.no_grad():
            return paragru_loop(project(x, W, b, H), A)

    leaves = {}

    def forward_backward():
        xs, As, Ws, bs = (t.clone().requires_grad_(True) for t in (x, A, W, b))
        y = paragru_loop(project(xs, Ws, bs, H), As)
        (y * dy).sum().backward()
        leaves.update(y=y.detach(), dx=xs.grad, dA=As.grad, dB=Ws.grad, db=bs.grad)

    def timed(fn):
        fn()  # warm-up
        ms = []
        for _ in range(args.reps):
            t0 = time.perf_counter()
            fn()
            ms.append((time.perf_counter() - t0) * 1e3)
        return ms

    fwd = timed(forward)
    fwd_bwd = timed(forward_backward)
    out = {
        "tool": "bench/pytorch/paragru.py",
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "threads": torch.get_num_threads(),
        "shape": {"batch": Bn, "length": Tn, "size": D, "heads": H},
        "forwardMs": fwd,
        "forwardBackwardMs": fwd_bwd,
        "forwardMedianMs": statistics.median(fwd),
        "forwardBackwardMedianMs": statistics.median(fwd_bwd),
        "check": None,
    }
    status = 0
    if args.data:
        check = {}
        shapes = {"y": (Bn, Tn, D), "dx": (Bn, Tn, Din), "dA": (G, D), "dB": (H, Din // H, G, D // H), "db": (G, D)}
        for name, shape in shapes.items():
            ref = load(args.data, name + "_ref", shape).double()
            got = leaves[name].double()
            scale = max(ref.abs().max().item(), 1e-30)
            check[name] = (got - ref).abs().max().item() / scale
        out["check"] = check
        out["checkTolerance"] = 1e-4
        if any(v > 1e-4 for v in check.values()):
            status = 3
    if args.json:
        print(json.dumps(out))
    else:
        print(f"PyTorch {out['torch']} ParaGRU B={Bn} T={Tn} D={D} H={H}, {out['threads']} threads: "
              f"forward {out['forwardMedianMs']:.1f} ms, forward+backward {out['forwardBackwardMedianMs']:.1f} ms")
        if out["check"]:
            print("largest error / largest |reference| against parascan: " +
                  ", ".join(f"{k} {v:.2e}" for k, v in out["check"].items()))
    sys.exit(status)


if __name__ == "__main__":
    main()
