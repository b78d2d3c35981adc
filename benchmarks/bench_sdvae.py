"""A real latent-diffusion VAE: `vaelint check train.py` against the training step it checks,
side by side in one run (issue 33).

The model is diffusers' AutoencoderKL in Stable Diffusion 1.x's configuration (83.7M
parameters, random weights: nothing is downloaded), trained the way diffusers-style scripts
train it::

    posterior = vae.encode(x).latent_dist
    z = posterior.sample()
    pred = vae.decode(z).sample
    loss = F.mse_loss(pred, x) + kl_scale * posterior.kl().sum() / B

Plain: `python train.py` (build, one batch, forward, loss, backward, optimizer step).
vaelint: `vaelint check train.py` on the same script, the input inferred from its data.
Both as processes; time is wall time, memory the peak resident set of the process and
everything it waited for (the worker). diffusers is a benchmark dependency
(`pip install -e '.[bench]'`), never vaelint's.

    python benchmarks/bench_sdvae.py [--size 128] [--batch 2] [--runs 1] [--no-fixes]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_memory import peak_of  # noqa: E402
from common import with_bytecode_cache  # noqa: E402

TRAIN = """
import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
vae = AutoencoderKL(
    in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2, sample_size={size},
    block_out_channels=(128, 256, 512, 512),
    down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
)
opt = torch.optim.AdamW(vae.parameters(), lr=1e-4)
kl_scale = 1e-6
loader = DataLoader(TensorDataset(torch.rand({batch}, 3, {size}, {size}) * 2 - 1), batch_size={batch})
for (x,) in loader:
    posterior = vae.encode(x).latent_dist
    z = posterior.sample()
    pred = vae.decode(z).sample
    loss = F.mse_loss(pred, x) + kl_scale * posterior.kl().sum() / x.shape[0]
    opt.zero_grad()
    loss.backward()
    opt.step()
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=2)
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
        fh.write(TRAIN.format(size=args.size, batch=args.batch))
    plain = [sys.executable, os.path.join(folder, "train.py")]
    check = [sys.executable, "-m", "vaelint", "check", os.path.join(folder, "train.py"), "--timeout", "1200"]
    if args.no_fixes:
        check.append("--no-fixes")
    rows = []
    for _ in range(args.runs):  # side by side: plain, then the check, in each round
        rows.append((peak_of(plain), peak_of(check)))
    t_plain = statistics.median(p[0] for p, _ in rows)
    m_plain = statistics.median(p[1] for p, _ in rows)
    t_check = statistics.median(c[0] for _, c in rows)
    m_check = statistics.median(c[1] for _, c in rows)
    label = f"SD-VAE (AutoencoderKL, SD 1.x config), {args.batch}x3x{args.size}x{args.size}"
    print(f"{label:58} {'seconds':>8} {'peak GiB':>9}")
    print(f"{'plain training step (python train.py)':58} {t_plain:8.1f} {m_plain:9.2f}")
    print(f"{'vaelint check train.py' + (' --no-fixes' if args.no_fixes else ''):58} {t_check:8.1f} {m_check:9.2f}")
    print(f"ratio: time {t_check / t_plain:.2f}x, peak memory {m_check / m_plain:.2f}x (goal <= 1.2x each)")


if __name__ == "__main__":
    main()
