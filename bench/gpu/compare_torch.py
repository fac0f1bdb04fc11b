#!/usr/bin/env python3
"""Recomputes every case CudaTorchDump wrote with PyTorch on the same GPU and compares.

usage: compare_torch.py <dump-dir> [--timing]
Forward values and gradients (torch.autograd) are compared with a tolerance relative to
max(1, |torch|); prints one line per case and exits 1 if any case is off. --timing also times
PyTorch eager on the two speed shapes of CudaTiming.java, (8192, 128000) cross-entropy and N=32768, D=512 InfoNCE.
"""
import os
import sys
import time

import torch
import torch.nn.functional as F

DT = {"float32": torch.float32, "int32": torch.int32, "int64": torch.int64}
TOL = {"cross_entropy": 2e-5, "normalize": 2e-5, "gemm_FP32": 1e-4, "gemm_TF32": 3e-2, "gemm_BF16": 2e-1,
       "infonce": 1e-4}


def load(d, spec):
    f, dtype, shape = spec.split(":")
    raw = bytearray(open(os.path.join(d, f), "rb").read())
    t = torch.frombuffer(raw, dtype=DT[dtype]).clone()
    return t.reshape([] if shape == "scalar" else [int(s) for s in shape.split("x")]).cuda()


def err(want, got):
    want, got = want.double(), got.double()
    same = (want == got) | (torch.isnan(want) & torch.isnan(got))
    e = ((got - want).abs() / want.abs().clamp_min(1.0)).masked_fill(same, 0.0)
    return float(e.nan_to_num(nan=float("inf")).max()) if e.numel() else 0.0


def cross_entropy(c, d):
    x = load(d, c["logits"]).requires_grad_(True)
    w = load(d, c["weight"]) if "weight" in c else None
    eps, z = float(c["smoothing"]), float(c["z_loss"])
    red = c["reduction"].lower()
    n = x.shape[0]
    keep = load(d, c["mask"]).bool() if "mask" in c else torch.ones(n, dtype=torch.bool, device="cuda")
    if "probs" in c:
        p = load(d, c["probs"])
        rows = F.cross_entropy(x, p, weight=w, label_smoothing=eps, reduction="none") * keep
        ce = rows if red == "none" else rows.sum() / (keep.sum() if red == "mean" else 1)
    else:
        y = load(d, c["targets"]).clone()
        y[~keep] = -100
        keep = keep & (y != -100)
        ce = F.cross_entropy(x, y, weight=w, ignore_index=-100, label_smoothing=eps, reduction=red)
    lse = torch.logsumexp(x, dim=1)
    if z > 0:
        zl = z * lse.square() * keep
        ce = ce + (zl if red == "none" else zl.sum() / (keep.sum() if red == "mean" else 1))
    ce.sum().backward()
    out = [("loss", ce.detach(), load(d, c["loss"])), ("grad", x.grad, load(d, c["grad"]))]
    if "lse" in c:
        out.append(("lse", lse.detach(), load(d, c["lse"])))
    return out


def normalize(c, d):
    x = load(d, c["x"]).requires_grad_(True)
    y = F.normalize(x, p=2, dim=-1, eps=float(c["eps"]))
    y.backward(load(d, c["dy"]))
    return [("y", y.detach(), load(d, c["y"])), ("dx", x.grad, load(d, c["dx"]))]


def gemm(c, d):
    a, b = load(d, c["a"]), load(d, c["b"])
    mode = c["mode"]
    torch.backends.cuda.matmul.allow_tf32 = mode == "TF32"
    want = (a.bfloat16() @ b.bfloat16().t()).float() if mode == "BF16" else a @ b.t()
    torch.backends.cuda.matmul.allow_tf32 = False
    exact = a.double() @ b.double().t()
    print(f"    {mode}: max |jnce - float64| {float((load(d, c['c']).double() - exact).abs().max()):.3e}, "
          f"|torch - float64| {float((want.double() - exact).abs().max()):.3e}")
    return [("c", want, load(d, c["c"]))]


def infonce(c, d):
    q, k = load(d, c["q"]).requires_grad_(True), load(d, c["k"]).requires_grad_(True)
    t = float(c["temperature"])
    s = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).t() / t
    loss = F.cross_entropy(s, torch.arange(q.shape[0], device="cuda"))
    loss.backward()
    return [("loss", loss.detach(), load(d, c["loss"])), ("dq", q.grad, load(d, c["dq"])),
            ("dk", k.grad, load(d, c["dk"]))]


def timing():
    torch.backends.cuda.matmul.allow_tf32 = False

    def median(fn, runs=10):
        for _ in range(3):
            fn()
        torch.cuda.synchronize()
        ts = []
        for _ in range(runs):
            t0 = time.perf_counter()
            fn()
            torch.cuda.synchronize()
            ts.append((time.perf_counter() - t0) * 1e3)
        return sorted(ts)[runs // 2]

    n, c = 8192, 128000
    x = (torch.randn(n, c, device="cuda") * 3).requires_grad_(True)
    y = torch.arange(n, device="cuda") * 7919 % c

    def ce():
        x.grad = None
        F.cross_entropy(x, y).backward()
    ms = median(ce)
    print(f"torch cross_entropy fwd+bwd ({n},{c}) float32 eager: {ms:.3f} ms, {12 * n * c / ms / 1e6:.0f} GB/s at 12 B/logit")
    del x
    buf = torch.empty(2 * 1024 ** 3 // 4, device="cuda")
    copy_ms = median(lambda: buf.clone())
    print(f"device copy bandwidth (clone of 2 GiB, read+write): {2 * 2 * 1024 ** 3 / copy_ms / 1e6:.0f} GB/s")
    del buf
    n, dd = 32768, 512
    for mode in ("fp32", "tf32"):
        torch.backends.cuda.matmul.allow_tf32 = mode == "tf32"
        q = torch.randn(n, dd, device="cuda", requires_grad=True)
        k = torch.randn(n, dd, device="cuda", requires_grad=True)
        lab = torch.arange(n, device="cuda")

        def step():
            q.grad = k.grad = None
            s = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).t() / 0.07
            F.cross_entropy(s, lab).backward()
        print(f"torch infonce fwd+bwd N={n} D={dd} {mode} eager: {median(step):.3f} ms")
    torch.backends.cuda.matmul.allow_tf32 = False


def main():
    d = sys.argv[1]
    print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.get_device_name(0)}")
    bad = 0
    for line in open(os.path.join(d, "manifest.txt")):
        c = dict(kv.split("=", 1) for kv in line.split())
        op = c["op"]
        fn = {"cross_entropy": cross_entropy, "normalize": normalize, "gemm": gemm, "infonce": infonce}[op]
        tol = TOL[op + "_" + c["mode"] if op == "gemm" else op]
        results = fn(c, d)
        worst = max(err(w, g) for _, w, g in results)
        ok = worst <= tol
        bad += not ok
        desc = " ".join(f"{k}={v}" for k, v in c.items() if "=" not in v and ":" not in v and k not in ("op", "name"))
        print(f"{'ok ' if ok else 'BAD'} {c['name']:>10} {op:<14} {desc:<60} max rel err {worst:.2e} (tol {tol:g})")
    print(f"{bad} case(s) off")
    if "--timing" in sys.argv:
        timing()
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
