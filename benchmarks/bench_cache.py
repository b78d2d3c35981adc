"""What the result cache and --jobs save, as ratios measured side by side in one run.

Goals (issue "A re-check costs nothing"): a re-check of an unchanged target at
most 0.15x `python -c "import torch"`; a repository of 10 targets with one
changed at most 1.2x that one target's check alone (import torch included);
`--jobs 2` on 4 independent targets at most 0.65x the wall time of `--jobs 1`,
measured on two kinds: light conv VAEs (16x3x64x64, latent 128; a check of
about 0.2 s, less than the `import torch` every run pays first) and residual
conv VAEs (8 blocks each way, same input; about 0.6 s of vaelint's own Python
each, the share --jobs can split).
Commands run in interleaved rounds in a throwaway copy, so machine noise hits
every side alike; medians are printed.

    python benchmarks/bench_cache.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile

from common import timed as run
from common import with_bytecode_cache

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MLP = os.path.join(ROOT, "fixtures", "clean", "mlp_vae.py")
MODELS = os.path.join(ROOT, "benchmarks", "models_large.py")
CONV, RES = MODELS + ":ConvVAE", MODELS + ":ResVAE"
PY = sys.executable
N = 10


with_bytecode_cache()  # as a user's machine runs vaelint (benchmarks/common.py)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    repo = tempfile.mkdtemp(prefix="vaelint-bench-cache-")
    env = {k: v for k, v in os.environ.items() if k not in ("VAELINT_NO_CACHE", "VAELINT_CACHE_DIR")}
    targets = []
    for i in range(N):
        shutil.copy(MLP, os.path.join(repo, f"model_{i}.py"))
        targets.append(f'[[tool.vaelint.targets]]\ntarget = "model_{i}.py:VAE"\ninput = ["32x784"]\n')
    with open(os.path.join(repo, "pyproject.toml"), "w") as fh:
        fh.write("[tool.vaelint]\n" + "\n".join(targets))
    check = [PY, "-m", "vaelint", "check", "-q"]
    changed = os.path.join(repo, "model_0.py")

    def touch_one() -> None:  # a real edit: a comment appended, so its digest changes
        with open(changed, "a") as fh:
            fh.write("# edited\n")

    sides = {
        "import torch": lambda: run([PY, "-c", "import torch"], repo, env),
        "one target, first check (no cache)": lambda: run([*check, "model_1.py:VAE", "--input", "32x784", "--no-cache"], repo, env),
        "one target, unchanged (cached)": lambda: run([*check, "model_1.py:VAE", "--input", "32x784"], repo, env),
        f"{N} targets, one changed": lambda: (touch_one(), run(check, repo, env))[1],
        f"{N} targets, no cache": lambda: run([*check, "--no-cache"], repo, env),
        "4 conv targets --jobs 1": lambda: run([*check, *[CONV] * 4, "--input", "16x3x64x64", "--no-cache", "--jobs", "1"], repo, env),
        "4 conv targets --jobs 2": lambda: run([*check, *[CONV] * 4, "--input", "16x3x64x64", "--no-cache", "--jobs", "2"], repo, env),
        "4 residual targets --jobs 1": lambda: run([*check, *[RES] * 4, "--input", "16x3x64x64", "--no-cache", "--jobs", "1"], repo, env),
        "4 residual targets --jobs 2": lambda: run([*check, *[RES] * 4, "--input", "16x3x64x64", "--no-cache", "--jobs", "2"], repo, env),
    }
    run(check, repo, env)  # fill the cache
    run([*check, "model_1.py:VAE", "--input", "32x784"], repo, env)
    times: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(args.runs):
        for name, side in sides.items():
            times[name].append(side())
    med = {name: statistics.median(v) for name, v in times.items()}
    torch_s, alone = med["import torch"], med["one target, first check (no cache)"]
    print(f"{'command':40} {'median s':>9} {'ratio':>8}  to")
    for name, value in med.items():
        base, against = (alone, "one target's first check") if name.startswith(f"{N} targets") else (torch_s, "import torch")
        for kind in ("conv", "residual"):
            if name.startswith(f"4 {kind}"):
                base, against = med[f"4 {kind} targets --jobs 1"], "--jobs 1"
        print(f"{name:40} {value:9.3f} {value / base:8.2f}  {against}")
    shutil.rmtree(repo)


if __name__ == "__main__":
    main()
