"""Batches the code makes at a fixed size (frontends/training/madebatches.py): what makes them is read
from the step's own scope, in line order; an assignment inside a function the script defines (and
never calls) is another scope's and says nothing of the step's batch."""

from helpers import check, found

SCRIPT = """
import torch
import torch.nn as nn

BATCH, Z = 16, 4
frames = torch.rand(100, 12)


def unused_sampler():
    obs = frames[torch.randint(0, len(frames), (BATCH,))]
    return obs


enc, dec = nn.Linear(12, 2 * Z), nn.Linear(Z, 12)
opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()])
for start in range(0, len(frames), BATCH):
    obs = frames[start : start + BATCH]
    mu, logvar = enc(obs).chunk(2, dim=1)
    z = mu + torch.randn(BATCH, Z) * torch.exp(0.5 * logvar)
    loss = ((dec(z) - obs) ** 2).sum() / obs.size(0) - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / obs.size(0)
    opt.zero_grad()
    loss.backward()
    opt.step()
"""


def test_a_sampler_defined_but_not_the_steps_says_nothing_of_its_batch(tmp_path, monkeypatch):
    (tmp_path / "train.py").write_text(SCRIPT)
    monkeypatch.chdir(tmp_path)
    result = check(str(tmp_path / "train.py"), "-", [])
    assert result.error is None, result.error.message
    assert ("VAE005", 19) in found(result), [f.message for f in result.findings]  # the last slice has 4 frames
    assert not any("makes every batch" in n for n in result.notes)
