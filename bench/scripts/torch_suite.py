#!/usr/bin/python3
"""PyTorch's side of the jnce benchmark suite (bench/run.sh): the same cases as the JMH run.

Reads the JMH result files given, and for every case in them (benchmark class, method and
parameters, the backend aside) times the equivalent torch.nn.functional code on the CPU:
median of repeated calls after warm-up, at least 3 and for about --budget seconds; a case
whose first call takes over 4 budgets reports that call alone (reps 1), to keep the run short. Forward
cases run without autograd; forward+backward cases build the graph on inputs that require
grad and call backward() (gradients are dropped before each step, as zero_grad(set_to_none)
does). Prints one JSON object per case:

    {"bench": "InfoNceBench", "method": "forwardBackward", "params": {"n": "512", "d": "128"},
     "seconds": 0.0123, "reps": 41}

preceded by a '#' line with the torch version and thread count (taken from OMP_NUM_THREADS).

    OMP_NUM_THREADS=2 /usr/bin/python3 bench/scripts/torch_suite.py [--budget S] JMH.json ...

Needs Debian's python3-torch, importable only from /usr/bin/python3.
"""
import argparse
import gc
import json
import os
import statistics
import time

import torch
import torch.nn.functional as F

TEMPERATURE = 0.1  # InfoNceBench.TEMPERATURE


def shape(text):
    return tuple(int(v) for v in text.split("x"))


def randn(*size, scale=1.0, grad=False):
    return (torch.randn(*size) * scale).requires_grad_(grad)


def cross_entropy(p, backward):
    n, c = shape(p["shape"])
    x, t = randn(n, c, grad=backward), torch.randint(0, c, (n,))
    kwargs = {}
    if p.get("options") == "weighted_smoothed":  # CrossEntropyBench's options
        kwargs = dict(weight=0.5 + torch.rand(c), label_smoothing=0.1)
    return [x], lambda: F.cross_entropy(x, t, **kwargs)


def softmax(p, backward):
    x = randn(*shape(p["shape"]), grad=backward)
    dy = torch.randn(x.shape)
    f = F.softmax if p["function"] == "softmax" else F.log_softmax
    return [x], lambda: f(x, dim=-1), dy


def nll(p, backward):
    n, c = shape(p["shape"])
    x = (-12 * torch.rand(n, c)).requires_grad_(backward)
    t = torch.randint(0, c, (n,))
    return [x], lambda: F.nll_loss(x, t)


def bce_with_logits(p, backward):
    size = shape(p["shape"])
    x, t = randn(*size, scale=2.0, grad=backward), torch.rand(size).requires_grad_(backward)
    return [x, t], lambda: F.binary_cross_entropy_with_logits(x, t)  # jnce returns both gradients


def normalize(p, backward):
    x = randn(*shape(p["shape"]), grad=backward)
    return [x], lambda: F.normalize(x, dim=-1), torch.randn(x.shape)


def similarity(p, method):
    n, d = int(p["n"]), int(p["d"])
    backward = method == "cosineForwardBackward"
    a, b = randn(n, d, grad=backward), randn(n, d, grad=backward)
    if method == "gemm":
        out = torch.empty(n, n)
        return [], lambda: torch.mm(a, b.t(), out=out)
    return [a, b], lambda: F.normalize(a, dim=1) @ F.normalize(b, dim=1).t(), torch.randn(n, n) / n


def info_nce(p, backward):
    n, d = int(p["n"]), int(p["d"])
    q, k, t = randn(n, d, grad=backward), randn(n, d, grad=backward), torch.arange(n)
    tau = torch.tensor(TEMPERATURE, requires_grad=backward)  # jnce's InfoNce also returns d loss / d tau
    return [q, k, tau], lambda: F.cross_entropy(F.normalize(q, dim=1) @ F.normalize(k, dim=1).t() / tau, t)


def one_tensor(p, method):
    """InfoNceBench's one-tensor forms: InfoNCE on f fᵀ, NT-Xent (self-pairs masked, targets i +- N/2), SupCon."""
    n, d = int(p["n"]), int(p["d"])
    f, tau = randn(n, d, grad=True), torch.tensor(TEMPERATURE, requires_grad=True)
    if method == "oneTensorForwardBackward":
        t = torch.arange(n)
        return [f, tau], lambda: F.cross_entropy(F.normalize(f, dim=1) @ F.normalize(f, dim=1).t() / tau, t)
    t, self_pairs = (torch.arange(n) + n // 2) % n, torch.eye(n, dtype=torch.bool)
    if method == "supConForwardBackward":  # labels i mod (N/8), as InfoNceBench
        classes = torch.arange(n) % max(1, n // 8)
        same = (classes[:, None] == classes[None, :]) & ~self_pairs

        def sup_con():
            z = F.normalize(f, dim=1)
            log_prob = F.log_softmax((z @ z.t() / tau).masked_fill(self_pairs, float("-inf")), dim=1)
            return -(log_prob.masked_fill(~same, 0).sum(1) / same.sum(1)).mean()
        return [f, tau], sup_con

    def nt_xent():
        z = F.normalize(f, dim=1)
        return F.cross_entropy((z @ z.t() / tau).masked_fill(self_pairs, float("-inf")), t)
    return [f, tau], nt_xent


CASES = {
    "CrossEntropyBench": cross_entropy,
    "SoftmaxBench": softmax,
    "NllBench": nll,
    "BinaryCrossEntropyWithLogitsBench": bce_with_logits,
    "NormalizeBench": normalize,
    "SimilarityBench": None,  # the method picks the case
    "InfoNceBench": info_nce,
}


def build(bench, method, params):
    if bench == "SimilarityBench":
        built = similarity(params, method)
    elif bench == "InfoNceBench" and method in ("oneTensorForwardBackward", "ntXentForwardBackward", "supConForwardBackward"):
        built = one_tensor(params, method)
    else:
        built = CASES[bench](params, method == "forwardBackward")
    leaves, fn, upstream = (built + (None,))[:3]
    if not leaves or method in ("forward", "cosineForward"):
        def step():
            with torch.no_grad():
                fn()
    else:
        def step():
            for v in leaves:
                v.grad = None
            y = fn()
            y.backward(upstream) if upstream is not None else y.backward()
    return step


def measure(step, budget):
    start = time.perf_counter()
    step()
    first = time.perf_counter() - start
    if first > 4 * budget:  # seconds per call (Debian's torch on large GEMMs): the first call is the figure
        return first, 1
    warm_until = time.perf_counter() + min(budget / 2, max(0.0, 0.2 - first))
    while time.perf_counter() < warm_until:
        step()
    times = []
    stop = time.perf_counter() + budget
    while len(times) < 3 or (time.perf_counter() < stop and len(times) < 20000):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), len(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("jmh", nargs="+", help="JMH JSON result files")
    ap.add_argument("--budget", type=float, default=1.0, help="seconds of timed calls per case (default 1)")
    args = ap.parse_args()
    torch.manual_seed(1)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", 2)))
    print("# torch %s, threads %d (OMP_NUM_THREADS=%s OPENBLAS_NUM_THREADS=%s), median after warm-up, budget %.1f s"
          % (torch.__version__, torch.get_num_threads(), os.environ.get("OMP_NUM_THREADS", "unset"),
             os.environ.get("OPENBLAS_NUM_THREADS", "unset"), args.budget), flush=True)
    seen = set()
    for path in args.jmh:
        for r in json.load(open(path)):
            bench, method = r["benchmark"].split(".")[-2:]
            params = {k: v for k, v in r.get("params", {}).items() if k != "backend"}
            key = (bench, method, tuple(sorted(params.items())))
            if bench not in CASES or key in seen:
                continue
            seen.add(key)
            seconds, reps = measure(build(bench, method, params), args.budget)
            print(json.dumps({"bench": bench, "method": method, "params": params, "seconds": seconds, "reps": reps}),
                  flush=True)
            gc.collect()


if __name__ == "__main__":
    main()
