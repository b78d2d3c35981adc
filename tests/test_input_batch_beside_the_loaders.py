"""``--input`` typed at a batch size the code's loader never makes, for code that writes its batch
size down beside that loader (a recurrent VAE's state ``torch.zeros(BATCH, h)`` with
``DataLoader(batch_size=BATCH, drop_last=True)``): the step raised at the typed batch, and the report
blamed the code, VAE013 at the cat with eleven rules not checked (helper-found). Now the run is made
again at the loader's batch size and checked there, with a note of the batch that failed; where the
loader also gives a smaller last batch, VAE005 says what writes the size down. A model that fails at
every batch size still gets its VAE013; an --input at the loader's size is checked as typed."""

from __future__ import annotations

from json_cli import check_json

SCRIPT = """import torch
import torch.nn as nn
import torch.nn.functional as F

BATCH = 8


class SeqVAE(nn.Module):
    def __init__(self, d=16, h=8, z=4):
        super().__init__()
        self.rnn = nn.GRUCell(d, h)
        self.enc = nn.Linear(d + h, 2 * z)
        self.dec = nn.Linear(z + h + EXTRA, d)
        self.h = h

    def init_state(self, batch_size):
        return torch.zeros(batch_size, self.h)

    def forward(self, x_t, h):
        mu, lv = self.enc(torch.cat([x_t, h], 1)).chunk(2, 1)
        z = mu + torch.randn_like(mu) * (0.5 * lv).exp()
        return self.dec(torch.cat([z, h], 1)), mu, lv, self.rnn(x_t, h)


model = SeqVAE()
opt = torch.optim.Adam(model.parameters())
loader = torch.utils.data.DataLoader(torch.randn(100, 5, 16), batch_size=BATCH, shuffle=True DROP)
for seq in loader:
    h = model.init_state(batch_size=BATCH)
    loss = 0
    for t in range(seq.shape[1]):
        rec, mu, lv, h = model(seq[:, t], h)
        loss = loss + F.l1_loss(rec, seq[:, t], reduction="sum") - 0.5 * torch.sum(1 + lv - mu ** 2 - lv.exp())
    opt.zero_grad()
    loss.backward()
    opt.step()
"""


def _script(tmp_path, drop=", drop_last=True", extra="0"):
    path = tmp_path / "seq_train.py"
    path.write_text(SCRIPT.replace(" DROP", drop).replace("EXTRA", extra))
    return path


def _line_of(path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def _said(result) -> list[str]:
    return [n for n in result["notes"] if n.startswith("--input's batch of")]


def test_every_batch_of_the_loaders_size_is_checked_there_and_clean(tmp_path):
    path = _script(tmp_path)
    r, result = check_json(str(path), "--input", "4x5x16")
    assert r.exit_code == 0, r.output
    assert result["findings"] == [], result["findings"]
    said = _said(result)
    assert len(said) == 1, result["notes"]
    assert "batch of 4" in said[0] and "loader (8)" in said[0] and "give --input at 8" in said[0], said[0]
    assert f"seq_train.py:{_line_of(path, 'self.enc(torch.cat')}" in said[0], said[0]  # where the typed batch raised
    seq = next(row for row in result["flow"] if row["name"] == "seq")
    assert seq["sizes"] == {"B": 8}, seq
    assert [s["code"] for s in result["skipped"]] == ["VAE012"], result["skipped"]  # the loss rules ran


def test_a_loader_with_a_smaller_last_batch_is_VAE005_at_the_size_written_down(tmp_path):
    path = _script(tmp_path, drop="")
    r, result = check_json(str(path), "--input", "4x5x16")
    assert r.exit_code == 1, r.output
    assert [f["code"] for f in result["findings"]] == ["VAE005"], result["findings"]
    assert result["findings"][0]["line"] == _line_of(path, "torch.zeros(batch_size"), result["findings"]
    assert len(_said(result)) == 1, result["notes"]


def test_input_at_the_loaders_size_is_checked_as_typed(tmp_path):
    path = _script(tmp_path)
    r, result = check_json(str(path), "--input", "8x5x16")
    assert r.exit_code == 0, r.output
    assert result["findings"] == [] and _said(result) == [], (result["findings"], result["notes"])


def test_a_model_that_fails_at_the_loaders_batch_too_keeps_its_VAE013(tmp_path):
    path = _script(tmp_path, extra="1")  # the decoder takes one feature more than it is given
    r, result = check_json(str(path), "--input", "4x5x16")
    assert r.exit_code == 1, r.output
    assert [f["code"] for f in result["findings"]] == ["VAE013"], result["findings"]
    # the run at the loader's batch fails too (at the decoder): what the typed batch met is said
    assert result["findings"][0]["line"] == _line_of(path, "self.enc(torch.cat"), result["findings"]
    assert _said(result) == [], result["notes"]
