#!/usr/bin/python3
"""PyTorch's side of the cross-entropy benchmark (bench/scripts/ce_vs_torch.sh).

Times torch.nn.functional.cross_entropy(logits, targets) forward+backward (float32 logits
that require grad, int64 targets, mean reduction) at each shape given, after warm-up, and
prints the median of several repetitions as one line per shape:

    torch ce N C seconds GBps OPTIONS

where GBps = 12 bytes per logit * N * C / seconds / 1e9 (the same effective bandwidth the
jnce JMH benchmark reports), preceded by a '#' line with the torch version and thread count.

    OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 /usr/bin/python3 bench/scripts/torch_ce.py [NxC ...]

Shapes default to 8192x32000 (1 GB of logits). Set OMP_NUM_THREADS (and
OPENBLAS_NUM_THREADS) in the environment before starting: the thread count is taken from
OMP_NUM_THREADS (default 2). Each repetition is a training step: the gradient is dropped
(x.grad = None, outside the timed region) and backward() allocates a fresh one, as with
optimizer.zero_grad(set_to_none=True). Needs Debian's python3-torch, importable only from
/usr/bin/python3.
"""
import argparse
import gc
import os
import statistics
import time

import torch
import torch.nn.functional as F


def parse_shape(text):
    n, c = text.lower().split("x")
    return int(n), int(c)


def bench(n, c, warmup, reps, seed, options):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, generator=g, dtype=torch.float32).requires_grad_(True)
    t = torch.randint(0, c, (n,), generator=g, dtype=torch.int64)
    kwargs = {}
    if options == "weighted_smoothed":  # jnce's CrossEntropyBench uses the same options
        kwargs = dict(weight=0.5 + torch.rand(c, generator=g), label_smoothing=0.1)

    def step():
        x.grad = None
        start = time.perf_counter()
        loss = F.cross_entropy(x, t, **kwargs)
        loss.backward()
        loss.item()
        return time.perf_counter() - start

    for _ in range(warmup):
        step()
    times = [step() for _ in range(reps)]
    x.grad = None
    del x, t
    gc.collect()
    return statistics.median(times), times


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("shapes", nargs="*", default=["8192x32000"], help="NxC, default 8192x32000")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps per shape (default 2)")
    p.add_argument("--reps", type=int, default=7, help="timed steps per shape (default 7)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--options", default="plain", choices=("plain", "weighted_smoothed"),
                   help="plain F.cross_entropy, or with class weights and label_smoothing=0.1")
    p.add_argument("--verbose", action="store_true", help="also print every repetition's time")
    args = p.parse_args()

    threads = int(os.environ.get("OMP_NUM_THREADS", 2))
    torch.set_num_threads(threads)
    print("# torch %s, threads %d (OMP_NUM_THREADS=%s OPENBLAS_NUM_THREADS=%s), warmup %d, median of %d"
          % (torch.__version__, torch.get_num_threads(), os.environ.get("OMP_NUM_THREADS", "unset"),
             os.environ.get("OPENBLAS_NUM_THREADS", "unset"), args.warmup, args.reps), flush=True)
    for shape in args.shapes:
        n, c = parse_shape(shape)
        small = n * c < 1_000_000  # tiny batches: many steps, the median of microseconds
        seconds, times = bench(n, c, args.warmup * (500 if small else 1), args.reps * (300 if small else 1),
                               args.seed, args.options)
        if args.verbose:
            print("# %dx%d times: %s" % (n, c, " ".join("%.6f" % s for s in times)))
        print("torch ce %d %d %.9f %.3f %s" % (n, c, seconds, 12.0 * n * c / seconds / 1e9, args.options), flush=True)


if __name__ == "__main__":
    main()
