"""Batches the code makes at a fixed size (frontends/training/madebatches.py): what makes them is read
from the step's own scope, in line order; an assignment inside a function the script defines (and
never calls) is another scope's and says nothing of the step's batch."""

from pathlib import Path

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


FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "training"


def test_a_replay_memory_giving_time_first_windows_makes_every_batch_its_size(monkeypatch):
    """``frames = memory.sample(batch_size, chunk)`` gives (chunk, batch_size, F): the batch size is
    the dim handed through the batch-like name, not dim 0 (the window length, handed too); the
    windows cut by ``s : s + chunk`` inside a comprehension are each item's, not the batch's rows."""
    monkeypatch.chdir(FIXTURES)
    result = check(str(FIXTURES / "replay_windows_state_sized_by_batch_size.py"), "-", [])
    assert result.error is None, result.error.message
    assert not result.findings, [f.message for f in result.findings]
    assert any("makes every batch 20 rows" in n and "memory.sample(batch_size, chunk)" in n for n in result.notes), result.notes


def test_a_window_length_handed_alone_is_no_batch_size(tmp_path, monkeypatch):
    """Only the window length is handed (the memory's own batch of 20 is fixed inside it): no dim of
    the made batch is taken for a batch size the code makes."""
    text = (FIXTURES / "replay_windows_state_sized_by_batch_size.py").read_text()
    text = text.replace("def sample(self, count, chunk):", "def sample(self, chunk, count=20):")
    text = text.replace("memory.sample(batch_size, chunk)", "memory.sample(chunk)")
    (tmp_path / "train.py").write_text(text)
    monkeypatch.chdir(tmp_path)
    result = check(str(tmp_path / "train.py"), "-", [])
    assert result.error is None, result.error.message
    assert not any("makes every batch" in n for n in result.notes), result.notes


def test_the_step_reads_its_batch_where_the_model_is_given_it_joined_with_a_state(monkeypatch):
    """``model.rnn(inp, h)`` with ``inp = torch.cat([frames[t], z], 1)``: no variable holds what the
    model was given; the batch is the data the call's statement reads, through ``inp``'s assignment
    (``frames``, not the zero-started ``z`` nor ``series`` a level further up); the slice over the
    series' batch dim leaves a last batch of 2 (VAE005 on the state written at the batch size)."""
    monkeypatch.chdir(FIXTURES)
    result = check(str(FIXTURES / "sequences_cut_by_a_moving_batch_slice.py"), "-", [])
    assert result.error is None, result.error.message
    assert [row.name for row in result.flow if row.stage == "input"] == ["frames"]
    assert ("VAE005", 33) in found(result), [f.message for f in result.findings]
    assert not any("makes every batch" in n for n in result.notes)


STANDARDISED = """
import torch
import torch.nn as nn

table = torch.randn(500, 12) * 2 + 3
centre, spread = table.mean(0), table.std(0)
enc, dec = nn.Linear(12, 6), nn.Linear(3, 12)
opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()])
for start in range(0, len(table), 32):
    rows = table[start : start + 32]
    mu, logvar = enc((rows - centre) / spread).chunk(2, -1)
    z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
    rec = ((dec(z) - (rows - centre) / spread) ** 2).sum() / 32
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / rows.size(0)
    opt.zero_grad()
    (rec + kl).backward()
    opt.step()
"""


def test_per_feature_statistics_read_beside_the_batch_are_not_the_batch(tmp_path, monkeypatch):
    """``enc((rows - centre) / spread)``: the data the model's statement reads is ``rows``; the (D,)
    statistics beside it carry no batch (review: they were taken as inputs, B read as 12, and the
    VAE005 on ``/ 32`` with a last batch of 20 was missed)."""
    (tmp_path / "train.py").write_text(STANDARDISED)
    monkeypatch.chdir(tmp_path)
    result = check(str(tmp_path / "train.py"), "-", [])
    assert result.error is None, result.error.message
    assert [row.name for row in result.flow if row.stage == "input"] == ["rows"]
    assert ("VAE005", 13) in found(result), [f.message for f in result.findings]


def test_a_length_handed_to_the_maker_is_not_the_batch_size(tmp_path, monkeypatch):
    """``make_walks(STEPS)`` gives 16 x STEPS x F, its 16 fixed inside: the one size handed, at dim 1,
    through no batch-like name, is no batch size (review: read as 'every batch 30 rows', the loss over
    STEPS taken for the batch written down)."""
    script = """
import torch
import torch.nn as nn

STEPS = 30


def make_walks(length):
    return (torch.randn(16, length, 4) * 0.1).cumsum(1)


enc, dec = nn.Linear(4 * STEPS, 6), nn.Linear(3, 4 * STEPS)
opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()])
for it in range(10):
    walks = make_walks(STEPS)
    mu, logvar = enc(walks.flatten(1)).chunk(2, -1)
    z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
    rec = ((dec(z) - walks.flatten(1)) ** 2).sum() / STEPS
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / walks.size(0)
    opt.zero_grad()
    (rec + kl).backward()
    opt.step()
"""
    (tmp_path / "train.py").write_text(script)
    monkeypatch.chdir(tmp_path)
    result = check(str(tmp_path / "train.py"), "-", [])
    assert result.error is None, result.error.message
    assert not any("makes every batch" in n for n in result.notes), result.notes
    assert result.batch == 16, result.batch
