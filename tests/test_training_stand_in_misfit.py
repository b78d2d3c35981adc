"""A run that stops in the code's own reading of a data file vaelint stood in for (made from
--input, one sample a line of a text file) says so: the stand-in's layout is a guess and the
code reads another (three values a line, stacked into windows). It was left as the code's own
error, "could not broadcast (100,300) into (100,3)" at the user's line (helper-found:
microsoft/event-vae-rl). The near miss reads one sample a line, and is checked."""

from __future__ import annotations

import pytest
from helpers import check
from training_cli import write_script

_STREAM = [
    "import numpy as np",
    "import torch",
    "from vae_common import VAE, elbo",
    "def rows(path):",
    "    with open(path) as f:",
    "        return [[float(v) for v in line.split()] for line in f if line.strip()]",
    "def main():",
    "    table = rows('data/events.txt')",
    "    model = VAE()",
    "    for step in range(3):",
    "        {STACK}",
    "        recon, mu, logvar = model(x)",
    "        elbo(recon, x, mu, logvar).backward()",
    "main()",
]


@pytest.mark.parametrize(
    "stack, misfit",
    [
        # windows of 4 rows of 196 values a line: the stand-in gives one 784-value sample a line
        ("x = torch.tensor(np.stack([np.asarray(table[i : i + 4]).reshape(4, 196) for i in range(16)])).float().view(16, 784)", True),
        ("x = torch.tensor(np.asarray(table[:16])).float()", False),  # one sample a line: as the stand-in has it
    ],
    ids=["windows-of-rows", "a-sample-a-line"],
)
def test_a_stand_in_the_code_reads_in_another_layout_is_said(tmp_path, monkeypatch, stack, misfit):
    write_script(tmp_path, *[line.replace("{STACK}", stack) for line in _STREAM])
    monkeypatch.chdir(tmp_path)
    result = check(str(tmp_path / "train.py"), "-", ["16x784"])
    if not misfit:
        assert result.error is None, result.error.message
        return
    assert result.error is not None, result.findings
    assert "this is the code reading vaelint's stand-in data" in result.error.message, result.error.message
