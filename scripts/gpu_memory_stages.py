"""Where a check's GPU memory goes, stage by stage (issue 33): a latent-diffusion VAE's training
step (benchmarks/bench_sdvae.py's script) checked in this process with ``--device cuda``, the
allocator's peak over each stage and what it still holds at the stage's end.

    python scripts/gpu_memory_stages.py [--model sd|video] [--size 512] [--frames 17] [--batch 2]

On the H200 (torch 2.11), SD 1.x's AutoencoderKL at 2x3x512x512, before the confirmation took the
shape stage's forward on the GPU: build (the code's own run to its backward) 18.0 GiB peak, 6.3
held after; the capture's forward at the user's batch 29.9 peak, 29.6 held; the confirmation's
forward 55.4 peak; the step alone takes 21.1 (bench_sdvae.py). Without a GPU it runs on the CPU
and reads no memory (a dry run of the script).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import torch  # noqa: E402
from bench_sdvae import MODELS, TRAIN  # noqa: E402

from vaelint.analyze import analyse  # noqa: E402
from vaelint.settings.options import Options  # noqa: E402

GIB = 2**30


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", choices=sorted(MODELS), default="sd")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--frames", type=int, default=17)
    parser.add_argument("--batch", type=int, default=2)
    args = parser.parse_args()
    gpu = torch.cuda.is_available()
    cls, build, shape = MODELS[args.model]
    sizes = {"size": args.size, "batch": args.batch, "frames": args.frames}
    folder = tempfile.mkdtemp(prefix="vaelint_stages_")
    path = os.path.join(folder, "train.py")
    with open(path, "w") as fh:
        fh.write(TRAIN.format(cls=cls, build=build.format(**sizes), shape=shape.format(**sizes), batch=args.batch, device="cuda"))
    os.chdir(folder)
    last = [None, time.perf_counter()]

    def progress(stage: str) -> None:
        now = time.perf_counter()
        if last[0] is not None:
            peak = torch.cuda.max_memory_allocated() / GIB if gpu else 0.0
            held = torch.cuda.memory_allocated() / GIB if gpu else 0.0
            print(f"{last[0]:>12}: {now - last[1]:6.1f} s  peak {peak:6.2f} GiB  held after {held:6.2f} GiB", flush=True)
        if gpu:
            torch.cuda.reset_peak_memory_stats()
        last[0], last[1] = stage, now

    result = analyse(path, Options(inputs=[], device="cuda" if gpu else "cpu", progress=progress))
    progress("end")
    if result.error is not None:
        print("error:", result.error.message[:400])
    print("findings:", sorted((f.code, f.loc.line if f.loc else None) for f in result.findings), "confirmed on", result.confirmed_on)


if __name__ == "__main__":
    main()
