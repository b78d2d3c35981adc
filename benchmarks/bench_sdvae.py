"""A real latent-diffusion VAE: `vaelint check train.py` against the training step it checks,
side by side in one run (issue 33).

The model is diffusers' AutoencoderKL in Stable Diffusion 1.x's configuration (83.7M
parameters, random weights: nothing is downloaded), or with ``--model video`` diffusers'
AutoencoderKLWan in Wan 2.1's configuration (a video VAE of 3-D causal convolutions, 127M
parameters) on a clip of ``--frames`` frames, trained the way diffusers-style scripts
train them::

    posterior = vae.encode(x).latent_dist
    z = posterior.sample()
    pred = vae.decode(z).sample
    loss = F.mse_loss(pred, x) + kl_scale * posterior.kl().sum() / B

Plain: `python train.py` (build, one batch, forward, loss, backward, optimizer step).
vaelint: `vaelint check train.py` on the same script, the input inferred from its data.
Both as processes; time is wall time, memory the peak resident set of the process and
everything it waited for (the worker). With ``--device cuda`` (a machine with a GPU) the
script moves the model and the batch to the GPU, the check runs with ``--device cuda``, and
the memory compared is the GPU's: the peak of what ``nvidia-smi`` reports in use while each
command runs, less what was in use before. diffusers is a benchmark dependency
(`pip install -e '.[bench]'`), never vaelint's.

    python benchmarks/bench_sdvae.py [--model sd|video] [--size 128] [--frames 17] [--batch 2]
                                     [--device cpu|cuda] [--runs 1] [--no-fixes]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_memory import peak_of  # noqa: E402
from common import with_bytecode_cache  # noqa: E402

MODELS = {
    # Stable Diffusion 1.x's VAE
    "sd": (
        "AutoencoderKL",
        """AutoencoderKL(
    in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2, sample_size={size},
    block_out_channels=(128, 256, 512, 512),
    down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
)""",
        "{batch}, 3, {size}, {size}",
    ),
    # Wan 2.1's video VAE (its defaults): causal 3-D convolutions, 4x in time, 8x in space
    "video": ("AutoencoderKLWan", "AutoencoderKLWan(base_dim=96, z_dim=16)", "{batch}, 3, {frames}, {size}, {size}"),
}

TRAIN = """
import torch
import torch.nn.functional as F
from diffusers import {cls}
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
device = {device!r}
vae = {build}.to(device)
opt = torch.optim.AdamW(vae.parameters(), lr=1e-4)
kl_scale = 1e-6
loader = DataLoader(TensorDataset(torch.rand({shape}) * 2 - 1), batch_size={batch})
for (x,) in loader:
    x = x.to(device)
    posterior = vae.encode(x).latent_dist
    z = posterior.sample()
    pred = vae.decode(z).sample
    loss = F.mse_loss(pred, x) + kl_scale * posterior.kl().sum() / x.shape[0]
    opt.zero_grad()
    loss.backward()
    opt.step()
"""


class GPUPeak:
    """The most GPU memory in use (GiB) while a command runs, as nvidia-smi reports it every
    50 ms, less what was in use before it started: the worker's allocations count, as the
    resident set of the processes a command waited for counts on the CPU."""

    def __init__(self) -> None:
        self.base = self._used()
        self.peak = self.base
        self._stop = threading.Event()
        self.output = ""  # what the last command printed (the check's report)

    @staticmethod
    def _used() -> float:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits", "--id=0"], capture_output=True, text=True, check=True
        )
        return float(out.stdout.split()[0]) / 1024

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._used())
            time.sleep(0.05)

    def measure(self, cmd: list[str]) -> tuple[float, float]:
        """(seconds, peak GPU GiB above the baseline) of a command."""
        self.base = self.peak = self._used()
        self._stop.clear()
        poller = threading.Thread(target=self._poll, daemon=True)
        poller.start()
        start = time.perf_counter()
        self.output = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False).stdout
        elapsed = time.perf_counter() - start
        self._stop.set()
        poller.join()
        return elapsed, self.peak - self.base


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", choices=sorted(MODELS), default="sd")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--frames", type=int, default=17, help="the clip's frames (--model video): 1 + 4k")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--show-report", action="store_true", help="print the last check's report (--device cuda)")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--no-fixes", action="store_true", help="pass --no-fixes to the check")
    args = parser.parse_args()
    try:
        import diffusers  # noqa: F401
    except ImportError:
        raise SystemExit("diffusers is not installed: pip install -e '.[bench]'") from None
    os.environ["VAELINT_NO_CACHE"] = "1"  # first checks are what this measures
    with_bytecode_cache()
    folder = tempfile.mkdtemp(prefix="vaelint_sdvae_")
    with open(os.path.join(folder, "train.py"), "w") as fh:
        cls, build, shape = MODELS[args.model]
        sizes = {"size": args.size, "batch": args.batch, "frames": args.frames}
        fh.write(TRAIN.format(cls=cls, build=build.format(**sizes), shape=shape.format(**sizes), batch=args.batch, device=args.device))
    plain = [sys.executable, os.path.join(folder, "train.py")]
    check = [sys.executable, "-m", "vaelint", "check", os.path.join(folder, "train.py"), "--timeout", "1200", "--device", args.device]
    if args.no_fixes:
        check.append("--no-fixes")
    gpu = GPUPeak() if args.device == "cuda" else None
    measure = gpu.measure if gpu else peak_of
    rows = []
    for _ in range(args.runs):  # side by side: plain, then the check, in each round
        rows.append((measure(plain), measure(check)))
    t_plain = statistics.median(p[0] for p, _ in rows)
    m_plain = statistics.median(p[1] for p, _ in rows)
    t_check = statistics.median(c[0] for _, c in rows)
    m_check = statistics.median(c[1] for _, c in rows)
    if args.model == "sd":
        label = f"SD-VAE (AutoencoderKL, SD 1.x config), {args.batch}x3x{args.size}x{args.size}"
    else:
        label = f"video VAE (AutoencoderKLWan, Wan 2.1 config), {args.batch}x3x{args.frames}x{args.size}x{args.size}"
    label += f" on {args.device}"
    memory = "GPU GiB" if args.device == "cuda" else "peak GiB"
    print(f"{label:58} {'seconds':>8} {memory:>9}")
    print(f"{'plain training step (python train.py)':58} {t_plain:8.1f} {m_plain:9.2f}")
    print(f"{'vaelint check train.py' + (' --no-fixes' if args.no_fixes else ''):58} {t_check:8.1f} {m_check:9.2f}")
    print(f"ratio: time {t_check / t_plain:.2f}x, peak memory {m_check / m_plain:.2f}x (goal <= 1.2x each)")
    if gpu and args.show_report:
        print(gpu.output)


if __name__ == "__main__":
    main()
