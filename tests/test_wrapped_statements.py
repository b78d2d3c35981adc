"""A statement black wrapped over several lines is read whole where its text decides something:
a data set's check that its file exists (``assert (\\n Path(root) / "data.mdb"\\n ).exists(), ...``)
says its data is not here, so with --input the data set stands in (it ended the run with its
AssertionError: helper-found, estevep/Temporal-Audio-VAE), and the code's own assert is quoted on one line."""

from __future__ import annotations

import textwrap

import pytest
from helpers import check

from vaelint.source.frames import raising_line

DATA = textwrap.dedent("""
    from pathlib import Path

    import torch
    from torch.utils.data import DataLoader, Dataset


    class Loops(Dataset):
        def __init__(self, root):
            assert (
                Path(root) / "data.mdb"
            ).exists(), f"could not find data.mdb in {root} !"
            self.items = torch.load(Path(root) / "data.mdb")

        def __len__(self):
            return len(self.items)

        def __getitem__(self, i):
            return self.items[i]

        def loaders(self, batch_size=4):
            return DataLoader(self, batch_size=batch_size, shuffle=True)
""")

TRAIN = textwrap.dedent("""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    from loops.data import Loops


    class VAE(nn.Module):
        def __init__(self, d=256, z=8):
            super().__init__()
            self.enc, self.dec = nn.Linear(d, 2 * z), nn.Linear(z, d)

        def forward(self, x):
            mu, logvar = self.enc(x).chunk(2, 1)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            return self.dec(z), mu, logvar


    model = VAE()
    opt = torch.optim.Adam(model.parameters())
    for x in Loops("../data/loops").loaders():
        out, mu, logvar = model(x)
        loss = F.mse_loss(out, x, reduction="sum") / x.size(0) - 0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
""")


def test_the_raising_line_of_a_wrapped_assert_is_the_whole_statement(tmp_path):
    path = tmp_path / "wrapped.py"
    path.write_text("def check(root):\n    assert (\n        root / 'data.mdb'\n    ).exists(), 'missing'\n")
    namespace: dict = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    from pathlib import Path

    with pytest.raises(AssertionError) as caught:
        namespace["check"](Path(tmp_path) / "nothing")
    text = raising_line(caught.value)
    assert ".exists()" in text and text.lstrip().startswith("assert ("), text


def test_a_data_set_in_a_package_that_asserts_its_file_over_three_lines_stands_in(tmp_path, monkeypatch):
    (tmp_path / "loops").mkdir()
    (tmp_path / "loops" / "__init__.py").write_text("")
    (tmp_path / "loops" / "data.py").write_text(DATA)
    (tmp_path / "train.py").write_text(TRAIN)
    monkeypatch.chdir(tmp_path)
    result = check("train.py", "-", ["4x256"])
    assert result.error is None, result.error.message
    assert any("the data set Loops" in n and "it stands in" in n for n in result.notes), result.notes
