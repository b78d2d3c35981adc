"""A KL whose -1/2 the run folds into a weight written beside a name (``-0.5 / n * (...)`` with ``n =
x.size(0)`` a local): the factor is said as written, VAE007 claims no missing 1/2, and no fix offered
drops the -0.5 (before: VAE004's unsafe fix wrote the KL without it, subtracted from the loss)."""

from __future__ import annotations

import os

from conftest import FIXTURES
from json_cli import check_json

SCRIPT = os.path.join(FIXTURES, "training", "kl_half_over_a_local_size.py")


def test_the_folded_half_is_no_missing_half_and_no_fix_drops_it():
    r, result = check_json(SCRIPT)
    codes = sorted(f["code"] for f in result["findings"])
    assert codes == ["VAE002", "VAE004"], r.output
    vae004 = next(f for f in result["findings"] if f["code"] == "VAE004")
    assert "the factor -0.5 / n" in vae004["message"], vae004["message"]


def test_the_unsafe_fixes_keep_the_kls_sign():
    from json_cli import app, runner

    r = runner.invoke(app, ["check", SCRIPT, "--diff", "--unsafe-fixes", "--no-cache"])
    added = [line for line in r.output.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert added, r.output  # VAE002's edit: the KL summed over the batch as the reconstruction is
    assert all("-0.5 / n *" in line for line in added if "kl =" in line), r.output
