"""A reconstruction written as one error per block of the data's columns, stacked and reduced
over the stack: the blocks share the data's values between them, so the stack's sum is one sum
over the data (clean where the KL is summed per sample too: fixtures/clean/column_groups_stacked.py,
a false VAE004 "multiplied by 2" before); blocks weighed unlike (each divided by its width, a
vector made on the input's device) are no one reduction, said as not read, never the false
"sum over 2 ... beta_eff = 1/B" it was (helper h33c, RasmussenLab/MOVE)."""

import os

from conftest import FIXTURES
from helpers import check


def test_blocks_weighed_by_their_widths_are_not_read_as_one_reduction(tmp_path):
    source = open(os.path.join(FIXTURES, "clean", "column_groups_stacked.py")).read()
    source = source.replace(
        "    return block_errors(recon, x).sum() + kl",
        "    widths = torch.tensor(BLOCKS, dtype=x.dtype, device=x.device)\n    return (block_errors(recon, x) / widths).sum() + kl",
    )
    path = tmp_path / "blocks.py"
    path.write_text(source)
    result = check(str(path), "VAE", ["16x36"])
    assert result.error is None and not [f for f in result.findings if f.code in ("VAE002", "VAE004")], result.findings
    why = dict(result.skipped)
    assert "could not be followed" in why.get("VAE002", ""), result.skipped
