"""Whole-process cost of checking a Keras 3 model, with Keras's own import cost
shown apart. Interleaved rounds, medians and ratios (as bench_check.py):

* `import torch` and `import torch, keras` (KERAS_BACKEND=torch): what Keras's
  import alone adds;
* plain Keras: build the seed's LSTM VAE, one forward, loss and backward;
* `vaelint check fixtures/keras/seed001_lstm_vae.py:build_vae --input 4x20x5`.

    python benchmarks/bench_keras.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

from bench_check import ROOT, timed
from common import with_bytecode_cache

# first checks are what this measures: the result cache (vaelint/cache/store.py) stays off
os.environ["VAELINT_NO_CACHE"] = "1"
with_bytecode_cache()  # as a user's machine runs vaelint (benchmarks/common.py)

PY = sys.executable
VAE = os.path.join(ROOT, "fixtures", "keras", "seed001_lstm_vae.py") + ":build_vae"

COMMANDS = {
    "import torch": [PY, "-c", "import torch"],
    "import torch, keras": [PY, "-c", "import os; os.environ['KERAS_BACKEND'] = 'torch'; import torch, keras"],
    "plain keras build + step": [PY, os.path.join(ROOT, "benchmarks", "plain_keras_step.py")],
    "vaelint check keras lstm vae": [PY, "-m", "vaelint", "check", VAE, "--input", "4x20x5"],
    "vaelint check keras lstm vae x5 targets": [PY, "-m", "vaelint", "check", *([VAE] * 5), "--input", "4x20x5"],
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
    med = {name: statistics.median(v) for name, v in times.items()}
    print(f"{'command':42} {'median s':>9}")
    for name, value in med.items():
        print(f"{name:42} {value:9.3f}")
    keras_import = med["import torch, keras"] - med["import torch"]
    check = med["vaelint check keras lstm vae"]
    plain = med["plain keras build + step"]
    print(f"\nKeras's own import: {keras_import:+.3f} s over import torch")
    print(f"vaelint check / plain Keras build + step: {check / plain:.2f}x")
    print(f"vaelint check / import torch, keras: {check / med['import torch, keras']:.2f}x")
    five = med["vaelint check keras lstm vae x5 targets"]
    print(f"each further Keras target in one process: {(five - check) / 4:.3f} s")


if __name__ == "__main__":
    main()
