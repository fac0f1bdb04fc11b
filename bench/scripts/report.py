#!/usr/bin/python3
"""Turns one bench/run.sh run into the generated section of bench/RESULTS.md and the points
of bench/results/scaling.png.

    report.py RUN_DIR RESULTS.md POINTS.tsv [--csv SUITE.csv]

RUN_DIR (bench/results/raw/suite-<date>/) holds the JMH results (<group>.json, from dev.jnce.bench.Suite), torch.jsonl (from
torch_suite.py) and machine.txt. Each case is judged against the machine's limits measured in
the same run (LimitsBench): GEMM-bound cases by flop/s against the OpenBLAS sgemm peak,
memory-bound ones by bytes/s against the memcpy bandwidth, with the traffic models below
(bytes per element; a written buffer counts 8, for its read-for-ownership). Only the text
between the markers of RESULTS.md is replaced. With --csv, one row per case is appended to
SUITE.csv (bench/results/suite.csv), its run columns from the environment as summarize.py's
(RUN_DATE, RUN_MACHINE, RUN_COMMIT, RUN_COMMAND, RUN_THREADS, RUN_RAW, RUN_NOTE).
"""
import json
import os
import pathlib
import re
import sys

import summarize

BEGIN, END = "<!-- generated:begin -->", "<!-- generated:end -->"


def nc(p):
    n, c = p["shape"].split("x")
    return int(n) * int(c)


def pairs(p):
    return int(p["n"]) ** 2 * int(p["d"])


# (bench, method) -> (label, kind, amount(params)); kind "flop" or "byte".
COST = {
    ("CrossEntropyBench", "forward"): ("cross-entropy fwd", "byte", lambda p: 4 * nc(p)),
    ("CrossEntropyBench", "forwardBackward"): ("cross-entropy fwd+bwd", "byte", lambda p: 12 * nc(p)),
    ("SoftmaxBench", "forward"): ("{function} fwd", "byte", lambda p: 12 * nc(p)),
    ("SoftmaxBench", "forwardBackward"): ("{function} fwd+bwd", "byte", lambda p: 28 * nc(p)),
    ("NllBench", "forward"): ("nll fwd", "byte", lambda p: 12 * int(p["shape"].split("x")[0])),
    ("NllBench", "forwardBackward"): ("nll fwd+bwd", "byte", lambda p: 8 * nc(p)),
    ("BinaryCrossEntropyWithLogitsBench", "forward"): ("bce-with-logits fwd", "byte", lambda p: 8 * nc(p)),
    ("BinaryCrossEntropyWithLogitsBench", "forwardBackward"): ("bce-with-logits fwd+bwd", "byte", lambda p: 24 * nc(p)),
    ("NormalizeBench", "forward"): ("normalize fwd", "byte", lambda p: 12 * nc(p)),
    ("NormalizeBench", "forwardBackward"): ("normalize fwd+bwd", "byte", lambda p: 28 * nc(p)),
    ("SimilarityBench", "gemm"): ("gemm A.B^T", "flop", lambda p: 2 * pairs(p)),
    ("SimilarityBench", "cosineForward"): ("cosine sim matrix fwd", "flop", lambda p: 2 * pairs(p)),
    ("SimilarityBench", "cosineForwardBackward"): ("cosine sim matrix fwd+bwd", "flop", lambda p: 6 * pairs(p)),
    ("InfoNceBench", "forward"): ("InfoNCE fwd", "flop", lambda p: 2 * pairs(p)),
    ("InfoNceBench", "forwardBackward"): ("InfoNCE fwd+bwd", "flop", lambda p: 6 * pairs(p)),
    # the symmetric forms do SYRK (N^2 D) + one GEMM (2 N^2 D); PyTorch does 6 N^2 D for them
    ("InfoNceBench", "oneTensorForwardBackward"): ("InfoNCE one tensor fwd+bwd", "flop", lambda p: 3 * pairs(p)),
    ("InfoNceBench", "ntXentForwardBackward"): ("NT-Xent fwd+bwd", "flop", lambda p: 3 * pairs(p)),
    ("InfoNceBench", "supConForwardBackward"): ("SupCon fwd+bwd", "flop", lambda p: 3 * pairs(p)),
}


def describe_shape(bench, p):
    if "n" in p:
        return "N=%s, D=%s" % (p["n"], p["d"])
    s = "(%s)" % p["shape"].replace("x", ", ")
    return s + (" weighted+smoothed" if p.get("options") == "weighted_smoothed" else "")


def fmt_time(s):
    return "%.3g s" % s if s >= 1 else "%.3g ms" % (s * 1e3) if s >= 1e-3 else "%.3g µs" % (s * 1e6)


def load(run):
    rows = []
    for path in sorted(run.glob("*.json")):
        for r in json.load(open(path)):
            bench, method = r["benchmark"].split(".")[-2:]
            assert r["primaryMetric"]["scoreUnit"] == "us/op", r["primaryMetric"]["scoreUnit"]
            rows.append(dict(group=path.stem, bench=bench, method=method, params=r["params"],
                             seconds=r["primaryMetric"]["score"] / 1e6, jdk="%s %s" % (r["vmName"], r["jdkVersion"])))
    torch, header = {}, ""
    for line in open(run / "torch.jsonl"):
        if line.startswith("#"):
            header = line[1:].strip()
            continue
        t = json.loads(line)
        torch[(t["bench"], t["method"], tuple(sorted(t["params"].items())))] = t["seconds"]
    return rows, torch, header


def limits(rows):
    peak = bandwidth = None
    for r in rows:
        if r["bench"] == "LimitsBench" and r["method"] == "sgemm":
            peak = max(peak or 0, 2 * int(r["params"]["size"]) ** 3 / r["seconds"])
        if r["bench"] == "LimitsBench" and r["method"] == "copy":
            bandwidth = max(bandwidth or 0, 2 * (int(r["params"]["copyMib"]) << 20) / r["seconds"])
    return peak, bandwidth


CSV_COLUMNS = summarize.RUN + ["backend", "op", "shape", "jnce_s", "torch_s", "ratio", "rate", "rate_unit",
                               "fraction_of_limit"] + summarize.TAIL


def run_date(run):
    """yyyy-mm-dd from RUN_DATE, else from the folder's name (suite-20261123-1141)."""
    if os.environ.get("RUN_DATE"):
        return os.environ["RUN_DATE"][:10]
    m = re.search(r"(\d{4})-?(\d{2})-?(\d{2})-\d{4}$", run.name)
    return "-".join(m.groups()) if m else "?"


def main():
    args = sys.argv[1:]
    csv_path = None
    if "--csv" in args:
        i = args.index("--csv")
        csv_path = args[i + 1]
        del args[i:i + 2]
    run, results_md, points_path = pathlib.Path(args[0]), pathlib.Path(args[1]), pathlib.Path(args[2])
    rows, torch, torch_header = load(run)
    peak, bandwidth = limits(rows)
    machine = (run / "machine.txt").read_text().strip()
    date = run_date(run)
    jdk = next((r["jdk"] for r in rows), "?")
    short_machine = machine.split(";")[0]
    out = [BEGIN, "",
           "## Generated by `bench/run.sh` (%s)" % run.name, "",
           "Machine: %s. JDK: %s. PyTorch: %s." % (machine, jdk, torch_header),
           "Limits measured in the same run: OpenBLAS sgemm peak **%s GFLOP/s**, memcpy bandwidth **%s GB/s**."
           % ("%.1f" % (peak / 1e9) if peak else "n/a", "%.1f" % (bandwidth / 1e9) if bandwidth else "n/a"),
           "Time: JMH average (jnce), median (PyTorch). Ratio = PyTorch time / jnce time (> 1: jnce is faster). "
           "Fraction of limit: flop/s / sgemm peak for GEMM-bound cases, modelled bytes/s / memcpy bandwidth for "
           "the others (bench/scripts/report.py; above 1 means the data stayed in cache or the model over-counts). "
           "Raw outputs: `%s/`." % run.as_posix().rstrip("/"), "",
           "| date | machine | JDK | backend | op | shape | time | PyTorch | ratio | rate | fraction of limit |",
           "| --- | --- | --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    points, csv_rows = [], []
    for r in rows:
        cost = COST.get((r["bench"], r["method"]))
        if cost is None:
            continue
        p = {k: v for k, v in r["params"].items() if k != "backend"}
        label, kind, amount = cost
        label = label.format(**p) + (" (scaling)" if r["group"].endswith("_scaling") else "")
        t = torch.get((r["bench"], r["method"], tuple(sorted(p.items()))))
        rate = amount(p) / r["seconds"]
        limit = peak if kind == "flop" else bandwidth
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            date, short_machine, jdk.split()[-1], r["params"]["backend"], label, describe_shape(r["bench"], p),
            fmt_time(r["seconds"]), fmt_time(t) if t else "—", "%.2f×" % (t / r["seconds"]) if t else "—",
            "%.1f %s" % (rate / 1e9, "GFLOP/s" if kind == "flop" else "GB/s"),
            "%.2f" % (rate / limit) if limit else "—"))
        csv_rows.append(dict(summarize.run_fields(), backend=r["params"]["backend"], op=label,
                             shape=describe_shape(r["bench"], p), jnce_s="%.6g" % r["seconds"],
                             torch_s="%.6g" % t if t else "", ratio="%.2f" % (t / r["seconds"]) if t else "",
                             rate="%.1f" % (rate / 1e9), rate_unit="GFLOP/s" if kind == "flop" else "GB/s",
                             fraction_of_limit="%.2f" % (rate / limit) if limit else ""))
        if r["group"] == "infonce_scaling" and r["method"] == "forwardBackward":
            points.append(("InfoNCE, two towers (cosine, τ = 0.1): forward+backward", "N", "%s D=%s" % (r["params"]["backend"], p["d"]), p["n"], r["seconds"]))
        if r["group"] == "cross_entropy_scaling" and r["method"] == "forwardBackward":
            n, c = p["shape"].split("x")
            points.append(("softmax cross-entropy (N = %s): forward+backward" % n, "C", r["params"]["backend"], c, r["seconds"]))
    for chart, axis, series, x, _ in list(points):
        key = ("InfoNceBench" if chart.startswith("InfoNCE") else "CrossEntropyBench", "forwardBackward",
               tuple(sorted(({"n": x, "d": series.split("D=")[1]} if chart.startswith("InfoNCE")
                             else {"shape": re.search(r"N = (\d+)", chart).group(1) + "x" + x, "options": "plain"}).items())))
        torch_series = "PyTorch" + (" D=" + series.split("D=")[1] if "D=" in series else "")
        if key in torch and (chart, axis, torch_series, x) not in {pt[:4] for pt in points}:
            points.append((chart, axis, torch_series, x, torch[key]))
    out += ["", "![scaling](results/scaling.png)", "", END]
    text = results_md.read_text()
    head = text.split(BEGIN)[0].rstrip("\n")
    tail = text.split(END, 1)[1] if END in text else "\n"
    results_md.write_text(head + "\n\n" + "\n".join(out) + tail)
    points_path.write_text("".join("%s\t%s\t%s\t%s\t%.6f\n" % (c, a, s, x, sec * 1e3) for c, a, s, x, sec in points))
    if csv_path:
        summarize.append(csv_path, CSV_COLUMNS, csv_rows)
    print("\n".join(out[2:-4]))


if __name__ == "__main__":
    main()
