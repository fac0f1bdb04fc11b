#!/usr/bin/env python3
"""Recomputes every case CudaTorchDump wrote with PyTorch on the same GPU and compares.

usage: compare_torch.py <dump-dir> [--timing]
Forward values and gradients (torch.autograd) are compared with a tolerance relative to
max(1, |torch|); prints one line per case and exits 1 if any case is off. --timing also times
PyTorch eager on the speed shapes of CudaTiming.java: (8192, 128000) cross-entropy beside a copy of
its bytes, N=32768, D=512 InfoNCE in float32, TF32 and bfloat16, and the scaling sizes.
The N=32768 InfoNCE outputs of jnce (op infonce_big, one per GEMM mode) and PyTorch's in the same
modes are measured against a float64 reference by ||out - ref|| / ||ref||.
"""
import os
import sys
import time

import torch
import torch.nn.functional as F

DT = {"float32": torch.float32, "int32": torch.int32, "int64": torch.int64}
# where the tensors go: the GPU, or the CPU for a dump of CudaTorchDump --host (checking this script without a GPU)
DEV = os.environ.get("JNCE_TORCH_DEVICE", "cuda")
TOL = {"cross_entropy": 2e-5, "normalize": 2e-5, "gemm_FP32": 1e-4, "gemm_TF32": 3e-2, "gemm_BF16": 2e-1,
       "infonce": 1e-4, "binary": 1e-5, "softmax": 1e-5, "nll": 1e-5, "kl": 1e-5, "clip": 1e-5, "siglip": 1e-5, "triplet": 1e-5, "softmax_focal": 1e-5}


def load(d, spec):
    f, dtype, shape = spec.split(":")
    raw = bytearray(open(os.path.join(d, f), "rb").read())
    t = torch.frombuffer(raw, dtype=DT[dtype]).clone()
    return t.reshape([] if shape == "scalar" else [int(s) for s in shape.split("x")]).to(DEV)


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
    got = load(d, c["c"])
    print(f"    {mode}: max |jnce - float64| {float((got.double() - exact).abs().max()):.3e}, "
          f"|torch - float64| {float((want.double() - exact).abs().max()):.3e}; ||jnce - float64|| / ||float64|| "
          f"{rel(got, exact):.2e}, torch {rel(want, exact):.2e}")
    if mode == "FP32":
        return [("c", want, got)]
    # TF32 and BF16: cuBLAS may pick another algorithm than PyTorch's (cuBLAS's FAST_16BF allows but does
    # not force bfloat16), so jnce is held to the float64 product by ||jnce - float64|| / ||float64||,
    # with the large InfoNCE cases' tolerance for that mode
    return rel(got, exact)


def binary(c, d):
    """BCE (weight), BCE with logits (weight, pos_weight), torchvision's sigmoid focal loss; in float64,
    the reference the CPU kernels are tested against, and its autograd gradients."""
    x = load(d, c["input"]).double().requires_grad_(True)
    y = load(d, c["target"]).double().requires_grad_(True)
    red = c["reduction"].lower()
    kind = c["kind"]
    if kind == "bce":
        w = load(d, c["weight"]).double()
        try:
            loss = F.binary_cross_entropy(x, y, weight=w, reduction=red)
            (loss.sum() if red == "none" else loss).backward()
        except RuntimeError:  # a torch without the target's derivative: d/dy = w (log(1-p) - log p), analytically
            x.grad = None
            y0 = y.detach()
            loss = F.binary_cross_entropy(x, y0, weight=w, reduction=red)
            (loss.sum() if red == "none" else loss).backward()
            scale = 1.0 / x.numel() if red == "mean" else 1.0
            y.grad = (w * (torch.log1p(-x.detach()) - torch.log(x.detach())) * scale)
        return [("loss", loss.detach().float(), load(d, c["loss"])),
                ("grad_input", x.grad.float(), load(d, c["grad_input"])),
                ("grad_target", y.grad.float(), load(d, c["grad_target"]))]
    elif kind == "bce_logits":
        loss = F.binary_cross_entropy_with_logits(x, y, weight=load(d, c["weight"]).double(),
                                                  pos_weight=load(d, c["pos_weight"]).double(), reduction=red)
    else:  # torchvision.ops.sigmoid_focal_loss, written out
        alpha, gamma = float(c["alpha"]), float(c["gamma"])
        p = torch.sigmoid(x)
        ce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
        p_t = p * y + (1 - p) * (1 - y)
        loss = ce * (1 - p_t) ** gamma
        if alpha >= 0:
            loss = (alpha * y + (1 - alpha) * (1 - y)) * loss
        loss = loss.mean() if red == "mean" else loss.sum() if red == "sum" else loss
    (loss.sum() if red == "none" else loss).backward()
    return [("loss", loss.detach().float(), load(d, c["loss"])), ("grad_input", x.grad.float(), load(d, c["grad_input"])),
            ("grad_target", y.grad.float(), load(d, c["grad_target"]))]


def softmax(c, d):
    """F.softmax, F.log_softmax, torch.logsumexp over the last dimension in float64, with autograd."""
    x = load(d, c["x"]).double().requires_grad_(True)
    fn = c["fn"]
    y = F.softmax(x, -1) if fn == "SOFTMAX" else F.log_softmax(x, -1) if fn == "LOG_SOFTMAX" else torch.logsumexp(x, -1)
    y.backward(load(d, c["dy"]).double())
    return [("y", y.detach().float(), load(d, c["y"])), ("dx", x.grad.float(), load(d, c["dx"]))]


def nll(c, d):
    """F.nll_loss in float64 (on probabilities: of max(log p, -100)), ignore_index -100, class weights."""
    x = load(d, c["input"]).double().requires_grad_(True)
    t = load(d, c["targets"])
    red = c["reduction"].lower()
    v = torch.log(x).clamp_min(-100.0) if c["probs"] == "true" else x
    loss = F.nll_loss(v, t, weight=load(d, c["weight"]).double(), ignore_index=-100, reduction=red)
    (loss.sum() if red == "none" else loss).backward()
    return [("loss", loss.detach().float(), load(d, c["loss"])), ("grad", x.grad.float(), load(d, c["grad"]))]


def kl(c, d):
    """F.kl_div in float64 with autograd for input and target."""
    x = load(d, c["input"]).double().requires_grad_(True)
    t = load(d, c["target"]).double().requires_grad_(True)
    red = c["reduction"].lower()
    loss = F.kl_div(x, t, reduction=red, log_target=c["log_target"] == "true")
    (loss.sum() if red == "none" else loss).backward()
    return [("loss", loss.detach().float(), load(d, c["loss"])), ("grad_input", x.grad.float(), load(d, c["grad_input"])),
            ("grad_target", t.grad.float(), load(d, c["grad_target"]))]


def clip(c, d):
    """open_clip's loss: the mean of F.cross_entropy over the rows and over the columns, targets on the diagonal."""
    s = load(d, c["s"]).double().requires_grad_(True)
    n = s.shape[0]
    y = torch.arange(n, device=DEV)
    red = c["reduction"].lower()
    loss = (F.cross_entropy(s, y, reduction=red) + F.cross_entropy(s.t(), y, reduction=red)) / 2
    (loss.sum() if red == "none" else loss).backward()
    return [("loss", loss.detach().float(), load(d, c["loss"])), ("grad", s.grad.float(), load(d, c["grad"]))]


def siglip(c, d):
    """SigLIP: -log sigmoid(label (S + bias)) summed, label +1 at j = i + offset; its sums and d sum / d S."""
    s = load(d, c["s"]).double().requires_grad_(True)
    n, m = s.shape
    off = int(c["offset"])
    labels = -torch.ones(n, m, dtype=torch.float64, device=DEV)
    i = torch.arange(n, device=DEV)
    keep = i + off < m
    labels[i[keep], (i + off)[keep]] = 1.0
    z = s + float(c["bias"])
    loss = -F.logsigmoid(labels * z).sum()
    loss.backward()
    sums = torch.stack([loss.detach(), s.grad.sum()]).float()
    return [("sums", sums, load(d, c["sums"])), ("grad", s.grad.float(), load(d, c["grad"]))]


def triplet(c, d):
    """F.triplet_margin_loss (margin 1, eps 1e-6; p = 2, or p = 1 with swap), or with the cosine distance, in float64."""
    a, p, n = (load(d, c[k]).double().requires_grad_(True) for k in ("a", "p", "n"))
    red = c["reduction"].lower()
    if c["kind"] == "cosine":
        loss = F.triplet_margin_with_distance_loss(a, p, n, margin=1.0, reduction=red,
                                                   distance_function=lambda x, y: 1 - F.cosine_similarity(x, y, eps=1e-6))
    else:
        loss = F.triplet_margin_loss(a, p, n, margin=1.0, p=1.0 if c["kind"] == "p1_swap" else 2.0, eps=1e-6,
                                     swap=c["kind"] == "p1_swap", reduction=red)
    (loss.sum() if red == "none" else loss).backward()
    return [("loss", loss.detach().float(), load(d, c["loss"])), ("ga", a.grad.float(), load(d, c["ga"])),
            ("gp", p.grad.float(), load(d, c["gp"])), ("gn", n.grad.float(), load(d, c["gn"]))]


def softmax_focal(c, d):
    """The multi-class focal loss -alpha_t (1 - p_t)^gamma log p_t over softmax rows, in float64 with autograd."""
    x = load(d, c["x"]).double().requires_grad_(True)
    t = load(d, c["targets"])
    logp = F.log_softmax(x, -1).gather(1, t[:, None]).squeeze(1)
    a = load(d, c["alpha"]).double()[t] if "alpha" in c else torch.ones_like(logp)
    per = -a * (1 - logp.exp()) ** float(c["gamma"]) * logp
    red = c["reduction"].lower()
    loss = per.mean() if red == "mean" else per.sum() if red == "sum" else per
    (loss.sum() if red == "none" else loss).backward()
    return [("loss", loss.detach().float(), load(d, c["loss"])), ("grad", x.grad.float(), load(d, c["grad"]))]


def infonce(c, d):
    q, k = load(d, c["q"]).requires_grad_(True), load(d, c["k"]).requires_grad_(True)
    t = float(c["temperature"])
    s = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).t() / t
    loss = F.cross_entropy(s, torch.arange(q.shape[0], device="cuda"))
    loss.backward()
    return [("loss", loss.detach(), load(d, c["loss"])), ("dq", q.grad, load(d, c["dq"])),
            ("dk", k.grad, load(d, c["dk"]))]


# ||out - ref|| / ||ref|| allowed for the N=32768 InfoNCE against float64, per GEMM mode
BIG_TOL = {"FP32": 1e-4, "TF32": 1e-2, "BF16": 5e-2}
_big_ref = {}


def rel(out, ref):
    out, ref = out.double(), ref.double()
    return float((out - ref).norm() / ref.norm().clamp_min(1e-300))


def infonce_torch(q, k, t, dtype=None, tf32=False):
    """loss, dq, dk of two-tower InfoNCE (normalize, matmul / t, CE against the diagonal) in torch."""
    q = q.detach().clone().requires_grad_(True)
    k = k.detach().clone().requires_grad_(True)
    torch.backends.cuda.matmul.allow_tf32 = tf32
    qn, kn = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
    if dtype == "bf16":
        with torch.autocast("cuda", dtype=torch.bfloat16):
            s = qn @ kn.t()
        s = s.float() / t
    else:
        s = qn @ kn.t() / t
    loss = F.cross_entropy(s, torch.arange(q.shape[0], device=q.device))
    loss.backward()
    torch.backends.cuda.matmul.allow_tf32 = False
    return loss.detach(), q.grad, k.grad


def infonce_big(c, d):
    """Returns (ok, text): jnce's outputs in one GEMM mode, and torch's in the same mode, against float64."""
    t = float(c["temperature"])
    if "ref" not in _big_ref:
        q, k = load(d, c["q"]), load(d, c["k"])
        _big_ref["qk"] = (q, k)
        _big_ref["ref"] = infonce_torch(q.double(), k.double(), t)
    q, k = _big_ref["qk"]
    ref = _big_ref["ref"]
    got = (load(d, c["loss"]), load(d, c["dq"]), load(d, c["dk"]))
    mode = c["mode"]
    theirs = infonce_torch(q, k, t, dtype="bf16" if mode == "BF16" else None, tf32=mode == "TF32")
    e = [rel(g, r) for g, r in zip(got, ref)]
    te = [rel(g, r) for g, r in zip(theirs, ref)]
    ok = max(e) <= BIG_TOL[mode]
    text = (f"N={c['N']} D={c['D']} {mode}: ||jnce - float64|| / ||float64|| loss {e[0]:.2e} dq {e[1]:.2e} dk {e[2]:.2e}; "
            f"torch in the same mode: loss {te[0]:.2e} dq {te[1]:.2e} dk {te[2]:.2e} (tol {BIG_TOL[mode]:g})")
    return ok, text


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
    copy_ms = median(lambda: x.detach().clone())
    print(f"torch copy of the logits' bytes ({n},{c}) float32 (clone, read + write): {copy_ms:.3f} ms, "
          f"{8 * n * c / copy_ms / 1e6:.0f} GB/s")
    print(f"torch cross_entropy fwd+bwd ({n},{c}) float32 eager: {ms:.3f} ms, {8 * n * c / ms / 1e6:.0f} GB/s at 8 B/logit")
    del x
    x = None
    torch.cuda.empty_cache()
    n, dd = 32768, 512
    q = torch.randn(n, dd, device="cuda")
    k = torch.randn(n, dd, device="cuda")
    for mode in ("fp32", "tf32", "bf16"):
        print(f"torch infonce fwd+bwd N={n} D={dd} {mode} eager: "
              f"{median(lambda: infonce_torch(q, k, 0.07, dtype=mode, tf32=mode == 'tf32')):.3f} ms")
    del q, k
    torch.cuda.empty_cache()
    for n, c in ((32, 1000), (256, 32000), (2048, 32000), (8192, 32000)):
        x = torch.randn(n, c, device="cuda").mul_(2).requires_grad_(True)
        y = torch.arange(n, device="cuda") * 7919 % c

        def ce_small():
            x.grad = None
            F.cross_entropy(x, y).backward()
        print(f"scaling torch cross_entropy ({n},{c}) eager: {median(ce_small):.4f} ms")
    for n in (256, 1024, 4096, 16384):
        q = torch.randn(n, 256, device="cuda")
        k = torch.randn(n, 256, device="cuda")
        print(f"scaling torch infonce two towers N={n} D=256 fp32 eager: {median(lambda: infonce_torch(q, k, 0.07)):.4f} ms")


def main():
    d = sys.argv[1]
    where = torch.cuda.get_device_name(0) if DEV == "cuda" else DEV
    print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {where}")
    bad = 0
    for line in open(os.path.join(d, "manifest.txt")):
        c = dict(kv.split("=", 1) for kv in line.split())
        op = c["op"]
        if op == "infonce_big":
            ok, text = infonce_big(c, d)
            bad += not ok
            print(f"{'ok ' if ok else 'BAD'} {c['name']:>10} {op:<14} {text}")
            continue
        fn = {"cross_entropy": cross_entropy, "normalize": normalize, "gemm": gemm, "infonce": infonce,
              "binary": binary, "softmax": softmax, "nll": nll, "kl": kl, "clip": clip, "siglip": siglip, "triplet": triplet, "softmax_focal": softmax_focal}[op]
        tol = TOL[op + "_" + c["mode"] if op == "gemm" else op]
        results = fn(c, d)
        if isinstance(results, float):  # a norm-relative error against float64
            worst, tol = results, BIG_TOL[c["mode"]]
        else:
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
