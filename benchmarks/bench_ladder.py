"""A whole check against plain PyTorch on a ladder of model sizes, side by side.

For each rung: plain PyTorch (build the model, one forward, loss and backward
at the same batch, then os._exit as vaelint ends) and `vaelint check` with its
confirmation pass on the CPU. Time and peak resident memory (the largest
process, as the kernel reports it for waited-for children) are measured in one
run, one rung after the other. Goals: at most 1.2x time and 1.5x peak memory.

    python benchmarks/bench_ladder.py [--rungs mlp-1024,conv-64] [--runs 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

from bench_memory import peak_of
from common import with_bytecode_cache

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.path.join(ROOT, "benchmarks", "models_large.py")

# first checks are what this measures: the result cache (vaelint/cache/store.py) stays off
os.environ["VAELINT_NO_CACHE"] = "1"
with_bytecode_cache()  # as a user's machine runs vaelint (benchmarks/common.py)

# name: (class, --init values, input spec)
RUNGS = {
    "mlp-1024": ("MLPVAE", {"hidden": 1024}, "32x4096"),
    "mlp-4096": ("MLPVAE", {"hidden": 4096}, "32x4096"),
    "mlp-16384": ("MLPVAE", {"hidden": 16384}, "32x4096"),
    "conv-64": ("ConvVAE", {"size": 64}, "32x3x64x64"),
    "conv-128": ("ConvVAE", {"size": 128}, "32x3x128x128"),
    "conv-256": ("ConvVAE", {"size": 256}, "32x3x256x256"),
    "lstm-50": ("LSTMVAE", {}, "32x50x32"),
    "lstm-200": ("LSTMVAE", {}, "32x200x32"),
    "lstm-1000": ("LSTMVAE", {}, "32x1000x32"),
    # 1.1e9 parameters (4.3 GB of weights): not in the default ladder, run it with --rungs mlp-1e9
    "mlp-1e9": ("MLPVAE", {"dim": 16384, "hidden": 32768}, "8x16384"),
}
DEFAULT = [name for name in RUNGS if name != "mlp-1e9"]

PLAIN = """
import os, sys, torch
sys.path.insert(0, {here!r})
from models_large import {cls}, per_sample_loss
torch.manual_seed(0)
model = {cls}(**{init!r})
x = torch.rand({shape})
recon, mu, logvar = model(x)
per_sample_loss(recon, x, mu, logvar).backward()
os._exit(0)
"""


def commands(name: str) -> tuple[list[str], list[str]]:
    cls, init, spec = RUNGS[name]
    shape = ", ".join(spec.split("x"))
    plain = [sys.executable, "-c", PLAIN.format(here=os.path.dirname(MODELS), cls=cls, init=init, shape=shape)]
    check = [
        sys.executable,
        "-m",
        "vaelint",
        "check",
        f"{MODELS}:{cls}",
        "--input",
        spec,
        "--loss",
        f"{MODELS}:per_sample_loss",
        "--timeout",
        "600",
    ]
    for key, value in init.items():
        check += ["--init", f"{key}={value}"]
    return plain, check


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rungs", default=",".join(DEFAULT))
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    print(f"{'rung':10} {'input':>14} {'plain s':>8} {'check s':>8} {'time x':>7} {'plain GiB':>9} {'check GiB':>9} {'mem x':>6}")
    worst_t = worst_m = 0.0
    for name in args.rungs.split(","):
        plain, check = commands(name)
        pt, pm, ct, cm = [], [], [], []
        for _ in range(args.runs):  # interleaved: noise hits both sides alike
            t, m = peak_of(plain)
            pt.append(t)
            pm.append(m)
            t, m = peak_of(check)
            ct.append(t)
            cm.append(m)
        tp, tc = statistics.median(pt), statistics.median(ct)
        mp, mc = statistics.median(pm), statistics.median(cm)
        worst_t, worst_m = max(worst_t, tc / tp), max(worst_m, mc / mp)
        spec = RUNGS[name][2]
        print(f"{name:10} {spec:>14} {tp:8.2f} {tc:8.2f} {tc / tp:7.2f} {mp:9.2f} {mc:9.2f} {mc / mp:6.2f}", flush=True)
    print(f"worst: time {worst_t:.2f}x (goal <= 1.2), peak memory {worst_m:.2f}x (goal <= 1.5)")


if __name__ == "__main__":
    main()
