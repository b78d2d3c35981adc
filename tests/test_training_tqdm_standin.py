"""tqdm, where the environment lacks it, stands in as its loop passed through: the run reaches the
step behind ``pbar = tqdm(loader)`` and a ``trange`` of epochs (vaelint/frontends/standintqdm.py;
helpers met "install tqdm" on VQ-VAE, flow and VRNN repositories). A library's own import of tqdm
is not stood in for."""

import sys

from helpers import check

SCRIPT = """
import torch
import torch.nn as nn
from tqdm import tqdm, trange
from tqdm.auto import tqdm as auto_tqdm
from torch.utils.data import DataLoader, TensorDataset


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc, self.dec = nn.Linear(20, 8), nn.Linear(4, 20)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        return self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)), mu, logvar


def main():
    model = VAE()
    opt = torch.optim.Adam(model.parameters())
    loader = DataLoader(TensorDataset(torch.rand(64, 20)), batch_size=16)
    for epoch in trange(3, desc="epochs"):
        pbar = auto_tqdm(loader, total=len(loader))
        for (x,) in pbar:
            recon, mu, logvar = model(x)
            loss = ((recon - x) ** 2).sum() - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
            opt.zero_grad()
            loss.backward()
            opt.step()
            pbar.set_postfix(loss=loss.item())
        tqdm.write(f"epoch {epoch} done, {len(pbar)} batches")


if __name__ == "__main__":
    main()
"""


def test_a_missing_tqdm_stands_in_and_the_step_behind_its_bars_is_checked(tmp_path, monkeypatch):
    from vaelint.frontends import standins

    real_spec = standins.real_spec
    # tqdm absent, as on a machine without it (the worker is forked from here, with no spare made before)
    monkeypatch.setattr(standins, "real_spec", lambda top: None if top == "tqdm" else real_spec(top))
    for name in [m for m in sys.modules if m == "tqdm" or m.startswith("tqdm.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setenv("VAELINT_SPARE", "0")
    (tmp_path / "train.py").write_text(SCRIPT)
    monkeypatch.chdir(tmp_path)
    result = check(str(tmp_path / "train.py"), "-", [])
    assert result.error is None, result.error.message
    assert result.findings == [] and result.loss_name.startswith("the training step"), result.findings
    assert any("tqdm is not installed; it stands in as its loop passed through" in n for n in result.notes), result.notes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.py"]


def test_the_bar_iterates_counts_and_draws_nothing():
    from vaelint.frontends.standintqdm import ProgressBar, progress, tenumerate, trange

    bar = ProgressBar([1, 2, 3], desc="x")
    assert list(bar) == [1, 2, 3] and bar.n == 3 and len(bar) == 3 and bar.iterable == [1, 2, 3]
    assert bar.set_postfix(loss=1.0) is None and bar.close() is None and ProgressBar.write("text") is None
    with ProgressBar(total=5) as manual:
        manual.update(2)
    assert manual.n == 2 and len(manual) == 5
    assert list(trange(2, 5)) == [2, 3, 4] and list(tenumerate("ab")) == [(0, "a"), (1, "b")]
    module = progress("tqdm.auto")
    assert module.tqdm is ProgressBar and module.trange is trange
