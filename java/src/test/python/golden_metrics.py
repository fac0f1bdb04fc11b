"""Golden data for dev.jnce.metrics: scikit-learn's classification metrics (confusion matrix,
precision / recall / F1 with every average, ROC curve and ROC-AUC, precision-recall curve and
average precision, best thresholds) on seeded inputs, ties and single-class cases included.

Run with Debian's /usr/bin/python3 (numpy, scikit-learn):
    /usr/bin/python3 java/src/test/python/golden_metrics.py
writes java/src/test/resources/golden/metrics.txt (read by dev.jnce.testutil.Golden).
"""
import datetime
import math
import os
import sys
import warnings

import numpy as np
import sklearn
from sklearn import metrics

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "resources", "golden", "metrics.txt"))
SEED = 20261204


def fmt(v):
    v = float(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return repr(v)


def line(key, values):
    return key + " = " + " ".join(fmt(v) for v in np.asarray(values, dtype=np.float64).reshape(-1).tolist())


def ints(key, values):
    return key + " = " + " ".join(str(int(v)) for v in np.asarray(values).reshape(-1).tolist())


def binary_case(name, scores, labels):
    scores = np.asarray(scores, dtype=np.float32).astype(np.float64)  # float32 values, exact in Java's float
    labels = np.asarray(labels, dtype=np.int64)
    out = ["[%s]" % name, line("scores", scores), ints("labels", labels)]
    fpr, tpr, thr = metrics.roc_curve(labels, scores)
    out += [line("roc_fpr", fpr), line("roc_tpr", tpr), line("roc_thresholds", thr)]
    if 0 < labels.sum() < len(labels):
        out.append(line("roc_auc", [metrics.roc_auc_score(labels, scores)]))
        j = tpr - fpr
        best = int(np.argmax(j))
        out += [line("best_j_threshold", [thr[best]]), line("best_j", [j[best]])]
    precision, recall, pthr = metrics.precision_recall_curve(labels, scores)
    out += [line("pr_precision", precision), line("pr_recall", recall), line("pr_thresholds", pthr)]
    out.append(line("ap", [metrics.average_precision_score(labels, scores)]))
    p, r = precision[:-1], recall[:-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(p + r == 0, 0.0, 2 * p * r / (p + r))
    best = int(np.argmax(f1))
    out += [line("best_f1_threshold", [pthr[best]]), line("best_f1", [f1[best]])]
    return "\n".join(out) + "\n"


def classification_case(name, y_true, y_pred):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    labels = np.unique(np.concatenate([y_true, y_pred]))
    out = ["[%s]" % name, ints("y_true", y_true), ints("y_pred", y_pred), ints("labels", labels),
           ints("cm", metrics.confusion_matrix(y_true, y_pred))]
    averages = ["micro", "macro", "weighted"]
    if len(labels) <= 2 and (len(labels) < 2 or 1 in labels):
        averages.insert(0, "binary")
    for avg in averages:
        p, r, f, _ = metrics.precision_recall_fscore_support(y_true, y_pred, average=avg, zero_division="warn")
        out += [line("precision_" + avg, [p]), line("recall_" + avg, [r]), line("f1_" + avg, [f])]
    return "\n".join(out) + "\n"


def main():
    warnings.simplefilter("ignore")
    rng = np.random.default_rng(SEED)
    cases = []
    y = rng.integers(0, 2, 300)
    cases.append(binary_case("random", rng.normal(size=300) + 0.8 * y, y))
    y = rng.integers(0, 2, 500)
    cases.append(binary_case("many_ties", np.round(rng.uniform(size=500) * 10 + 2 * y) / 10, y))
    cases.append(binary_case("all_equal", np.full(40, 0.5), rng.integers(0, 2, 40)))
    cases.append(binary_case("perfect", [0.1, 0.2, 0.3, 0.7, 0.8, 0.9], [0, 0, 0, 1, 1, 1]))
    cases.append(binary_case("reversed", [0.9, 0.8, 0.7, 0.3, 0.2, 0.1], [0, 0, 0, 1, 1, 1]))
    cases.append(binary_case("signed_zeros", [-0.0, 0.0, -1.5, 2.5, 0.0, -0.0, 1e-30, -3e38],
                             [1, 0, 0, 1, 1, 0, 1, 0]))
    cases.append(binary_case("two_samples", [0.3, 0.3], [0, 1]))
    cases.append(binary_case("only_positives", [0.2, 0.5, 0.5, 0.9], [1, 1, 1, 1]))
    cases.append(binary_case("only_negatives", [0.2, 0.5, 0.5, 0.9], [0, 0, 0, 0]))
    y = rng.integers(0, 2, 2000)
    cases.append(binary_case("large_ties", rng.integers(0, 50, 2000) + 10 * y, y))

    y_true = rng.integers(0, 2, 200)
    cases.append(classification_case("binary", y_true, np.where(rng.uniform(size=200) < 0.8, y_true, 1 - y_true)))
    y_true = rng.integers(0, 5, 300)
    y_pred = np.where(rng.uniform(size=300) < 0.6, y_true, rng.integers(0, 5, 300))
    y_pred[y_pred == 3] = 4  # label 3 never predicted: its precision divides by zero
    cases.append(classification_case("multiclass_zero_division", y_true, y_pred))
    cases.append(classification_case("sparse_labels", [-1, 2, 7, 7, 2, -1, 7, 100], [2, 2, 7, -1, -1, -1, 7, 7]))
    cases.append(classification_case("all_negative", [0, 0, 0, 0], [0, 0, 0, 0]))
    cases.append(classification_case("never_predicted_positive", [0, 1, 1, 0, 1], [0, 0, 0, 0, 0]))
    cases.append(classification_case("minus_one_and_one", [-1, 1, 1, -1, 1, -1], [1, 1, -1, -1, 1, 1]))

    head = "\n".join([
        "# Golden data for dev.jnce.metrics (classification metrics against scikit-learn).",
        "# Generated by java/src/test/python/golden_metrics.py (seed %d)" % SEED,
        "# scikit-learn %s, numpy %s, Python %s, on %s" % (sklearn.__version__, np.__version__,
                                                          sys.version.split()[0], datetime.date.today().isoformat()),
        "# Do not edit: rerun the generator with /usr/bin/python3.",
        "#",
        "# Format: '#' lines are comments; each case starts with [name] and holds one 'key = v1 v2 ...'",
        "# line per field. Binary cases: scores (float32 values as doubles), labels, roc_curve's",
        "# fpr/tpr/thresholds (scikit-learn 1.2 writes max(score) + 1 as the first threshold), roc_auc_score",
        "# (absent with one class: it raises), precision_recall_curve, average_precision_score, and the",
        "# np.argmax of F1 over the PR curve and of tpr - fpr over the ROC curve. Classification cases:",
        "# y_true, y_pred, the sorted labels, confusion_matrix (row-major) and precision_recall_fscore_support",
        "# per average (zero_division='warn', which returns 0).",
    ]) + "\n"
    with open(OUT, "w") as f:
        f.write(head + "\n" + "\n".join(cases))
    print("wrote %s (%d cases, %d bytes)" % (OUT, len(cases), os.path.getsize(OUT)))


if __name__ == "__main__":
    main()
