"""Whole-process cost of `vaelint check`, as ratios to a bare `import torch`.

Runs the commands in interleaved rounds (so machine noise hits every side
alike) and prints medians and their ratios. Goals: `vaelint check <mlp>` at
most 1.1x `python -c "import torch"`, each further target at most +0.03 s; the confirmation pass (with vs without
`--no-dynamic`) and the cost of each further target in one process (torch is
imported once) are printed beside it.

    python benchmarks/bench_check.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

from common import timed, with_bytecode_cache

# first checks are what this measures: the result cache (vaelint/cache/store.py) stays off
os.environ["VAELINT_NO_CACHE"] = "1"
with_bytecode_cache()  # as a user's machine runs vaelint (benchmarks/common.py)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MLP = os.path.join(ROOT, "fixtures", "clean", "mlp_vae.py") + ":VAE"
# a model with a VAE012 candidate: the simulated-GPU run is part of its check
GUARDED = os.path.join(ROOT, "fixtures", "clean", "device_guards.py") + ":VAE"
PY = sys.executable

COMMANDS = {
    "import torch": [PY, "-c", "import torch"],
    "vaelint check mlp": [PY, "-m", "vaelint", "check", MLP, "--input", "32x784"],
    "vaelint check mlp --no-dynamic": [PY, "-m", "vaelint", "check", MLP, "--input", "32x784", "--no-dynamic"],
    "vaelint check mlp x10 targets": [PY, "-m", "vaelint", "check", *([MLP] * 10), "--input", "32x784"],
    "vaelint check guarded (simulated GPU)": [PY, "-m", "vaelint", "check", GUARDED, "--input", "32x12"],
    "vaelint check guarded --ignore VAE012": [PY, "-m", "vaelint", "check", GUARDED, "--input", "32x12", "--ignore", "VAE012"],
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for cmd in COMMANDS.values():  # warm the file cache once
        timed(cmd)
    for _ in range(args.runs):
        for name, cmd in COMMANDS.items():
            times[name].append(timed(cmd))
    base = statistics.median(times["import torch"])
    print(f"{'command':40} {'median s':>9} {'ratio to import torch':>22}")
    for name, values in times.items():
        med = statistics.median(values)
        print(f"{name:40} {med:9.3f} {med / base:22.2f}")
    dyn = statistics.median(times["vaelint check mlp"])
    static = statistics.median(times["vaelint check mlp --no-dynamic"])
    print(f"\nconfirmation pass (paired medians): {dyn - static:+.3f} s, ratio {dyn / static:.2f}")
    ten = statistics.median(times["vaelint check mlp x10 targets"])
    print(f"10 targets in one process: {ten:.3f} s vs 1 target {dyn:.3f} s; each further target {(ten - dyn) / 9:.3f} s")
    sim = statistics.median(times["vaelint check guarded (simulated GPU)"])
    nosim = statistics.median(times["vaelint check guarded --ignore VAE012"])
    print(f"VAE012's simulated-GPU run on a model with a candidate: {sim - nosim:+.3f} s")
    print(f"goal: vaelint check mlp / import torch <= 1.1 -> {dyn / base:.2f}; each further target <= 0.030 s")


if __name__ == "__main__":
    main()
