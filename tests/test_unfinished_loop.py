"""A script that builds its model and loops over epochs, the loop's body unfinished (no batch, no
backward): exit 2 naming the model to check alone (helper L, an unfinished practice repository)."""

import textwrap

from typer.testing import CliRunner

from vaelint.cli import app

SCRIPT = """
import torch
import torch.nn as nn


class TinyVAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(20, 8)
        self.dec = nn.Linear(4, 20)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, -1)
        return self.dec(mu + torch.randn_like(mu) * (0.5 * logvar).exp()), mu, logvar


model = TinyVAE()
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.rand(64, 20)), batch_size=16)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
model.train()
for epoch in range(3):
    total = 0
"""


def test_an_unfinished_loop_names_the_model_to_check(tmp_path, monkeypatch):
    (tmp_path / "train.py").write_text(textwrap.dedent(SCRIPT))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["check", "train.py", "--no-cache"])
    said = " ".join(result.output.split())
    assert result.exit_code == 2, said
    assert "reached no backward" in said and "builds the model TinyVAE (at line 17)" in said, said
    assert "vaelint check train.py:TinyVAE --input SHAPE" in said, said
