"""Peak memory of a whole check against plain PyTorch, side by side in one run.

Plain PyTorch: build the model, one forward, loss and backward at the same
batch. vaelint: `vaelint check` with its confirmation pass (the worker's peak
counts: the largest resident set among the processes, as the kernel reports
it for waited-for children). Goal: at most 1.5x.

    python benchmarks/bench_memory.py [--batch 8]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.path.join(ROOT, "benchmarks", "models_large.py")

PLAIN = """
import sys, torch
sys.path.insert(0, {here!r})
from models_large import WideMLPVAE, loss_function

from common import with_bytecode_cache

# first checks are what this measures: the result cache (vaelint/cache/store.py) stays off
os.environ["VAELINT_NO_CACHE"] = "1"
with_bytecode_cache()  # as a user's machine runs vaelint (benchmarks/common.py)
torch.manual_seed(0)
model = WideMLPVAE()
x = torch.rand({batch}, 8192)
recon, mu, logvar = model(x)
loss_function(recon, x, mu, logvar).backward()
"""


def peak_of(cmd: list[str]) -> tuple[float, float]:
    """(seconds, peak RSS in GiB) of a command and everything it waited for."""
    start = time.perf_counter()
    code = (
        "import resource, subprocess, sys\n"
        "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, *cmd], capture_output=True, text=True, check=True)
    return time.perf_counter() - start, int(out.stdout.split()[-1]) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    plain = [sys.executable, "-c", PLAIN.format(here=os.path.dirname(MODELS), batch=args.batch)]
    check = [
        sys.executable,
        "-m",
        "vaelint",
        "check",
        f"{MODELS}:WideMLPVAE",
        "--input",
        f"{args.batch}x8192",
        "--loss",
        f"{MODELS}:loss_function",
        "--timeout",
        "600",
    ]
    t_plain, m_plain = peak_of(plain)
    t_check, m_check = peak_of(check)
    print(f"{'2.7e8-parameter MLP VAE, batch ' + str(args.batch):40} {'seconds':>8} {'peak GiB':>9}")
    print(f"{'plain build + forward + loss + backward':40} {t_plain:8.1f} {m_plain:9.2f}")
    print(f"{'vaelint check (with confirmation)':40} {t_check:8.1f} {m_check:9.2f}")
    print(f"ratio: time {t_check / t_plain:.2f}x, peak memory {m_check / m_plain:.2f}x (goal <= 1.5x)")


if __name__ == "__main__":
    main()
