#!/usr/bin/python3
"""Golden .npy files, written by NumPy's own np.save / np.lib.format.write_array.

Writes java/src/test/resources/npy/*.npy (read by dev.jnce.NpyTest): arrays jnce
reads (float32, int32, int64; format versions 1.0, 2.0 and 3.0), arrays it
refuses by name (big-endian, Fortran order, float64, uint8, bool, a structured
dtype), and a softmax cross-entropy case: float32 logits, int64 targets, and the
mean loss and its gradient computed in float64 from those logits, stored as
float32.

Run with Debian's python3-numpy (apt-get install python3-numpy):

    /usr/bin/python3 java/src/test/python/golden_npy.py

The files depend only on the values below (and NumPy's writer: 1.24.2 made the
committed ones); np.save's bytes are also what dev.jnce.Npy.write must produce.
"""
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "resources", "npy"))

F4 = np.array([[1.5, -2.25, 0.0], [3e-8, 1e30, -7.0]], dtype="<f4")


def save(name, array):
    np.save(os.path.join(OUT, name), array, allow_pickle=False)


def write_version(name, array, version):
    with open(os.path.join(OUT, name), "wb") as f:
        np.lib.format.write_array(f, array, version=version, allow_pickle=False)


def cross_entropy_case():
    rng = np.random.default_rng(20240611)
    logits = (rng.standard_normal((4, 5)) * 3).astype("<f4")
    targets = np.array([0, 4, 2, 2], dtype="<i8")
    x = logits.astype(np.float64)
    lse = np.log(np.exp(x - x.max(axis=1, keepdims=True)).sum(axis=1)) + x.max(axis=1)
    loss = np.mean(lse - x[np.arange(4), targets])
    onehot = np.zeros_like(x)
    onehot[np.arange(4), targets] = 1
    grad = (np.exp(x - lse[:, None]) - onehot) / 4
    save("ce_logits.npy", logits)
    save("ce_targets.npy", targets)
    save("ce_loss.npy", np.float32(loss))
    save("ce_grad.npy", grad.astype("<f4"))
    print("mean cross-entropy", loss)


def main():
    os.makedirs(OUT, exist_ok=True)
    save("f4_2x3.npy", F4)
    save("i4_4.npy", np.array([-1, 0, 7, 2**31 - 1], dtype="<i4"))
    save("i8_2x2.npy", np.array([[-2**63, 1], [2, 2**40]], dtype="<i8"))
    save("f4_scalar.npy", np.float32(0.25))
    save("f4_0x3.npy", np.zeros((0, 3), dtype="<f4"))
    save("f4_be_2x3.npy", F4.astype(">f4"))
    save("i4_be_3.npy", np.array([-2, 70000, 5], dtype=">i4"))
    save("i8_be_2.npy", np.array([-2, 2**40 + 3], dtype=">i8"))
    write_version("f4_v2_2x3.npy", F4, (2, 0))
    write_version("f4_v3_2x3.npy", F4, (3, 0))
    save("f4_fortran_2x3.npy", np.asfortranarray(F4))
    save("f8_2.npy", np.array([1.0, 2.0], dtype="<f8"))
    save("u1_3.npy", np.array([1, 2, 3], dtype="|u1"))
    save("b1_2.npy", np.array([True, False]))
    save("structured_2.npy", np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")]))
    cross_entropy_case()


if __name__ == "__main__":
    main()
