#!/usr/bin/python3
"""The tables of the side-by-side benchmark scripts, and their rows in bench/results/*.csv.

    summarize.py ce [--csv CSV] JMH.json TORCH.txt     (ce_vs_torch.sh)
    summarize.py infonce [--csv CSV] RAW.txt           (infonce_vs_torch.sh)
    summarize.py pair_ops [--csv CSV] RAW.txt          (pair_ops_vs_torch.sh)
    summarize.py ranking [--csv CSV] RAW.txt           (ranking_vs_torch.sh)

Prints the run's table, jnce against PyTorch, and with --csv appends one row per jnce
measurement to CSV (writing the header first when the file is new or empty). The columns that
describe the run come from the environment, which side_by_side.sh's results_run sets:

    RUN_DATE     UTC, 2026-11-23T13:39Z
    RUN_MACHINE  CPU model and cores, "AMD EPYC (2 cores)"
    RUN_COMMIT   git rev-parse --short HEAD, with "-dirty" when the tree had uncommitted changes
    RUN_COMMAND  the command line that ran the benchmark
    RUN_THREADS  the thread count of every pool (jnce, OpenBLAS, PyTorch)
    RUN_RAW      the folder of the run's raw logs
    RUN_NOTE     optional: anything a reader of the row must know

The raw logs are the probes' lines: "jnce BACKEND FORM N D SECONDS PEAK_BYTES [blockRows=R]"
(and "jnce BACKEND FORM-blas N D SECONDS", the BLAS calls the same step makes, and "jnce BACKEND
FORM-paired N D MEDIAN MIN MAX pairs=R", the step over its BLAS calls in pairs run back to back, and
"jnce BACKEND FORM-traffic N D SECONDS", the least memory traffic of the step's passes) and
"torch FORM N D SECONDS PEAK_BYTES"; '#' lines are comments.
"""
import csv
import json
import os
import sys

RUN = ["date", "machine", "commit", "command", "threads"]
TAIL = ["raw_log", "note"]
FORMS = ["infonce", "onetensor", "ntxent", "supcon", "labels", "clip", "siglip", "negatives"]


def run_fields():
    e = os.environ
    return {"date": e.get("RUN_DATE", ""), "machine": e.get("RUN_MACHINE", ""), "commit": e.get("RUN_COMMIT", ""),
            "command": e.get("RUN_COMMAND", ""), "threads": e.get("RUN_THREADS", ""),
            "raw_log": e.get("RUN_RAW", ""), "note": e.get("RUN_NOTE", "")}


def append(path, columns, rows):
    """Appends rows (dicts over columns) to the CSV at path; the header goes first in a new file."""
    new = not os.path.exists(path) or os.path.getsize(path) == 0
    if not new:
        with open(path, newline="") as f:
            lines = f.read().split("\n")
        header = next(csv.reader([lines[0]]))
        if header != columns and header == columns[:len(header)]:  # columns added at the end since
            lines[0] = ",".join(columns)
            with open(path, "w", newline="") as f:
                f.write("\n".join(lines))
    with open(path, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, lineterminator="\n")
        if new:
            w.writeheader()
        for r in rows:
            w.writerow(r)


def fixed(x, digits):
    return "" if x is None else "%.*f" % (digits, x)


def ce(jmh_path, torch_path):
    """JMH CrossEntropyBench.forwardBackward results and torch_ce.py lines; 12 bytes per logit."""
    torch = {}
    for line in open(torch_path):
        if line.startswith("#"):
            print(line.rstrip())
            continue
        f = line.split()
        if len(f) >= 6 and f[0] == "torch":
            torch[(f"{f[2]}x{f[3]}", f[6] if len(f) > 6 else "plain")] = float(f[4])
    columns = RUN + ["backend", "options", "shape", "jnce_us", "jnce_gb_s", "torch_us", "torch_gb_s", "speedup"] + TAIL
    rows = []
    print(f"{'backend':<8}{'options':<19}{'shape':<12}{'jnce us':>12}{'GB/s':>8}{'torch us':>12}{'GB/s':>8}{'speed-up':>10}")
    for r in json.load(open(jmh_path)):
        p = r["params"]
        options = p.get("options", "plain")
        n, c = map(int, p["shape"].split("x"))
        unit = r["primaryMetric"]["scoreUnit"]
        assert unit in ("us/op", "ms/op"), unit
        us = r["primaryMetric"]["score"] * (1000 if unit == "ms/op" else 1)
        gbs = 12 * n * c / (us / 1e6) / 1e9
        t = torch.get((p["shape"], options))
        tus = t * 1e6 if t else float("nan")
        tgbs = 12 * n * c / t / 1e9 if t else float("nan")
        print(f"{p['backend']:<8}{options:<19}{p['shape']:<12}{us:>12.1f}{gbs:>8.2f}{tus:>12.1f}{tgbs:>8.2f}{tus / us:>9.2f}x")
        rows.append(dict(run_fields(), backend=p["backend"], options=options, shape=f"N={n} C={c}",
                         jnce_us=fixed(us, 1), jnce_gb_s=fixed(gbs, 2), torch_us=fixed(t and tus, 1),
                         torch_gb_s=fixed(t and tgbs, 2), speedup=fixed(t and tus / us, 2)))
    return columns, rows


def probe_lines(path):
    """The measurements of a probe log in order: (kind, fields, block_rows)."""
    for line in open(path):
        f = line.split()
        if not f or f[0].startswith("#") or f[0] not in ("jnce", "torch"):
            continue
        block = next((x.split("=", 1)[1] for x in f if x.startswith("blockRows=")), "")
        yield f[0], [x for x in f if "=" not in x], "" if block == "0" else block


def infonce(raw_path):
    """InfoNceProbe and torch_infonce.py lines. A '-blas' line (older logs: 'gemm3') belongs to
    the jnce line before it; a torch line to every jnce line of its form and shape."""
    measured, torch = [], {}
    for kind, f, block in probe_lines(raw_path):
        if kind == "torch":
            torch[(f[1], f[2], f[3])] = (float(f[4]), int(f[5]))
            continue
        backend, form, n, d = f[1], f[2], f[3], f[4]
        if form == "gemm3" or form.endswith(("-blas", "-paired", "-traffic")):
            base = "infonce" if form == "gemm3" else form[:form.rindex("-")]
            last = next((m for m in reversed(measured) if m["key"] == (backend, base, n, d)), None)
            if last is not None and form.endswith("-paired"):
                last["paired"] = float(f[5])
            elif last is not None and form.endswith("-traffic"):
                last["traffic"] = float(f[5])
            elif last is not None:
                last["blas"] = float(f[5])
            continue
        measured.append(dict(key=(backend, form, n, d), seconds=float(f[5]), peak=int(f[6]), block=block, blas=None,
                             paired=None, traffic=None))

    # columns added later come last: rows written before them end that many columns short.
    # traffic_s: the least memory traffic of the step's passes over the logits (InfoNceProbe's
    # "-traffic" line); limit_over_blas = (BLAS + traffic) / BLAS, the step's floor on that machine
    columns = RUN + ["backend", "form", "shape", "block_rows", "jnce_s", "blas_s", "jnce_over_blas", "torch_s",
                     "speedup", "peak_mib", "torch_peak_mib"] + TAIL + ["paired_over_blas", "traffic_s", "limit_over_blas"]
    rows = []
    for m in measured:
        backend, form, n, d = m["key"]
        t = torch.get((form, n, d))
        s, g = m["seconds"], m["blas"]
        shape = f"N={n} K=64 D={d}" if form == "negatives" else f"N={n} D={d}"
        rows.append(dict(run_fields(), backend=backend, form=form, shape=shape, block_rows=m["block"],
                         jnce_s=fixed(s, 3), blas_s=fixed(g, 3), jnce_over_blas=fixed(g and s / g, 2),
                         torch_s=fixed(t and t[0], 3), speedup=fixed(t and t[0] / s, 2),
                         peak_mib="%.0f" % (m["peak"] / 2**20), torch_peak_mib="%.0f" % (t[1] / 2**20) if t else "",
                         paired_over_blas=fixed(m["paired"], 3), traffic_s=fixed(m["traffic"], 4),
                         limit_over_blas=fixed((g + m["traffic"]) / g if g and m["traffic"] is not None else None, 3)))

    # the printed table: the last measurement of each case that has both BLAS and PyTorch figures
    last = {}
    for m in measured:
        if not m["block"]:
            last[m["key"]] = m
    cases = sorted({(k[1], k[2], k[3]) for k in last}, key=lambda c: (int(c[1]), int(c[2]), FORMS.index(c[0]) if c[0] in FORMS else len(FORMS)))
    print(f"{'N':>6} {'D':>4} {'form':<9} {'backend':<7} {'jnce s':>8} {'BLAS s':>8} {'/BLAS':>6} {'paired':>7} {'limit':>6} {'torch s':>8} {'speed-up':>9} {'peak MiB':>9} {'torch MiB':>10}")
    for form, n, d in cases:
        t = torch.get((form, n, d))
        for b in ("cpu", "java"):
            m = last.get((b, form, n, d))
            if not m or not t or m["blas"] is None:
                continue
            s, g = m["seconds"], m["blas"]
            paired = "" if m["paired"] is None else "%.3f" % m["paired"]
            limit = "" if m["traffic"] is None else "%.3f" % ((g + m["traffic"]) / g)
            print(f"{n:>6} {d:>4} {form:<9} {b:<7} {s:>8.3f} {g:>8.3f} {s / g:>6.2f} {paired:>7} {limit:>6} "
                  f"{t[0]:>8.3f} {t[0] / s:>8.2f}x {m['peak'] / 2**20:>9.0f} {t[1] / 2**20:>10.0f}")
    return columns, rows


def pair_ops(raw_path):
    """PairOpsProbe and torch_pair_ops.py lines: triplet N D, mining N K (M = N keys)."""
    measured, torch = [], {}
    for kind, f, _ in probe_lines(raw_path):
        if kind == "torch":
            torch[f[1]] = (float(f[4]), int(f[5]) >> 20, f[2], f[3])
        else:
            measured.append((f[1], f[2], float(f[5]), int(f[6]) >> 20, f[3], f[4]))
    columns = RUN + ["backend", "op", "shape", "jnce_s", "torch_s", "speedup", "peak_mib", "torch_peak_mib"] + TAIL
    rows = []
    for backend, op, s, peak, n, d in measured:
        t = torch.get(op)
        shape = f"N=M={n} K={d}" if op == "mining" else f"N={n} D={d}"
        rows.append(dict(run_fields(), backend=backend, op=op, shape=shape, jnce_s=fixed(s, 3),
                         torch_s=fixed(t and t[0], 3), speedup=fixed(t and t[0] / s, 2),
                         peak_mib=str(peak), torch_peak_mib=str(t[1]) if t else ""))
    last = {(b, op): (s, peak, n, d) for b, op, s, peak, n, d in measured}
    print(f"{'op':<8} {'N':>6} {'D/K':>4} {'backend':<7} {'jnce s':>8} {'torch s':>8} {'speed-up':>9} {'peak MiB':>9} {'torch MiB':>10}")
    for op in ("triplet", "mining"):
        t = torch.get(op)
        for b in ("cpu", "java"):
            j = last.get((b, op))
            if j and t:
                print(f"{op:<8} {j[2]:>6} {j[3]:>4} {b:<7} {j[0]:8.3f} {t[0]:8.3f} {t[0] / j[0]:8.2f}x {j[1]:9d} {t[1]:10d}")
    return columns, rows


def ranking(raw_path):
    """RankingProbe and torch_ranking.py lines: the fused top-k against its own GEMMs and PyTorch,
    ROC-AUC against scikit-learn."""
    jnce, blas, torch, auc, sk = {}, {}, None, None, None
    for line in open(raw_path):
        f = line.split()
        if not f or f[0].startswith("#"):
            if f:
                print(line.rstrip())
            continue
        if f[0] == "jnce" and f[2] == "topk":
            jnce[f[1]] = dict(shape=f"N={f[3]} M={f[4]} D={f[5]} K={f[6]}", s=float(f[7]), peak=int(f[8]),
                              block=f[9].split("=", 1)[1])
        elif f[0] == "jnce" and f[2] == "topk-blas":
            blas[f[1]] = float(f[7])
        elif f[0] == "torch" and f[1] == "topk":
            torch = (float(f[6]), int(f[7]))
        elif f[0] == "jnce" and f[2] == "auc":
            auc = (f[1], f[3], float(f[4]))
        elif f[0] == "sklearn" and f[1] == "auc":
            sk = float(f[3])
    columns = RUN + ["backend", "op", "shape", "block_rows", "jnce_s", "blas_s", "jnce_over_blas", "baseline",
                     "baseline_s", "speedup", "peak_mib", "baseline_peak_mib"] + TAIL
    rows = []
    print(f"{'op':<6} {'backend':<7} {'shape':<30} {'jnce s':>8} {'GEMMs s':>8} {'/GEMMs':>7} {'baseline':<8} {'base s':>8} {'speed-up':>9} {'peak MiB':>9} {'base MiB':>9}")
    for backend, j in jnce.items():
        g = blas.get(backend)
        t = torch
        print(f"{'topk':<6} {backend:<7} {j['shape']:<30} {j['s']:>8.3f} {g or float('nan'):>8.3f} {(g and j['s'] / g) or float('nan'):>6.2f}x "
              f"{'torch':<8} {t[0] if t else float('nan'):>8.3f} {(t and t[0] / j['s']) or float('nan'):>8.2f}x "
              f"{j['peak'] / 2**20:>9.0f} {t[1] / 2**20 if t else float('nan'):>9.0f}")
        rows.append(dict(run_fields(), backend=backend, op="topk", shape=j["shape"], block_rows=j["block"],
                         jnce_s=fixed(j["s"], 3), blas_s=fixed(g, 3), jnce_over_blas=fixed(g and j["s"] / g, 3),
                         baseline="torch", baseline_s=fixed(t and t[0], 3), speedup=fixed(t and t[0] / j["s"], 2),
                         peak_mib="%.0f" % (j["peak"] / 2**20), baseline_peak_mib="%.0f" % (t[1] / 2**20) if t else ""))
    if auc:
        backend, n, s = auc
        print(f"{'auc':<6} {backend:<7} {'N=' + n:<30} {s:>8.3f} {'':>8} {'':>7} {'sklearn':<8} {sk or float('nan'):>8.3f} "
              f"{(sk and sk / s) or float('nan'):>8.2f}x")
        rows.append(dict(run_fields(), backend=backend, op="roc_auc", shape=f"N={n}", jnce_s=fixed(s, 3),
                         baseline="sklearn", baseline_s=fixed(sk, 3), speedup=fixed(sk and sk / s, 2)))
    return columns, rows


def main(argv):
    if len(argv) < 2 or argv[0] not in ("ce", "infonce", "pair_ops", "ranking"):
        sys.exit(__doc__)
    kind, args, csv_path = argv[0], argv[1:], None
    if args[0] == "--csv":
        csv_path, args = args[1], args[2:]
    columns, rows = {"ce": ce, "infonce": infonce, "pair_ops": pair_ops, "ranking": ranking}[kind](*args)
    if csv_path:
        append(csv_path, columns, rows)


if __name__ == "__main__":
    main(sys.argv[1:])
