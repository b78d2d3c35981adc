"""A data set class of the code's that subclasses a library's and writes no constructor of its own
(``class Frames(torchvision.datasets.ImageFolder)`` with its own ``__getitem__``): where its folder
is not here, the library's constructor raises, and with ``--input`` the data set stands in as one
with a constructor of the code's own does. With torchvision installed (the device machine had it)
the run stopped at 'No such file or directory: images', exit 2. The library here is a small
package of the test's, read as a library (not the user's files)."""

from __future__ import annotations

import textwrap

import pytest
from helpers import check, found

LIBRARY = textwrap.dedent("""
    import os

    from torch.utils.data import Dataset


    class ImageFolder(Dataset):
        \"\"\"torchvision's way: the class folders under root, listed when it is built.\"\"\"

        def __init__(self, root, transform=None):
            self.root, self.transform = root, transform
            classes = sorted(e.name for e in os.scandir(root) if e.is_dir())  # FileNotFoundError without it
            self.samples = [(os.path.join(root, c, f), i) for i, c in enumerate(classes) for f in os.listdir(os.path.join(root, c))]

        def __len__(self):
            return len(self.samples)
""")

TRAIN = textwrap.dedent("""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from torch.utils.data import DataLoader

    from fakevision_lib.datasets import ImageFolder


    class Frames(ImageFolder):
        def __getitem__(self, index):
            path, _ = self.samples[index]
            return torch.load(path)


    class VAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc, self.dec = nn.Linear(784, 32), nn.Linear(16, 784)

        def forward(self, x):
            mu, logvar = self.enc(x).chunk(2, dim=1)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            return torch.sigmoid(self.dec(z)), mu, logvar


    model = VAE()
    opt = torch.optim.Adam(model.parameters())
    loader = DataLoader(Frames("images"), batch_size=16, shuffle=True)
    for x in loader:
        recon, mu, logvar = model(x)
        rec = F.binary_cross_entropy(recon, x)
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        loss = rec + kl
        opt.zero_grad()
        loss.backward()
        opt.step()
""")


@pytest.fixture
def library(tmp_path, monkeypatch):
    """fakevision_lib, a package read as a library's (as site-packages' are)."""
    import vaelint.source.frames as frames

    lib = tmp_path / "lib"
    (lib / "fakevision_lib").mkdir(parents=True)
    (lib / "fakevision_lib" / "__init__.py").write_text("")
    (lib / "fakevision_lib" / "datasets.py").write_text(LIBRARY)
    monkeypatch.syspath_prepend(str(lib))
    roots = frames._roots()
    monkeypatch.setattr(frames, "_roots", lambda: (*roots, str(lib)))
    yield lib
    import sys

    for name in [n for n in sys.modules if n.startswith("fakevision_lib")]:
        del sys.modules[name]


def test_a_subclass_of_a_librarys_data_set_stands_in_where_its_folder_is_not(tmp_path, monkeypatch, library):
    (tmp_path / "work").mkdir()
    path = tmp_path / "work" / "train.py"
    path.write_text(TRAIN)
    monkeypatch.chdir(tmp_path / "work")
    result = check(str(path), "-", ["16x784"])
    assert result.error is None, result.error.message
    assert found(result) == {("VAE002", 33)}  # the mean reconstruction beside the summed KL: the step was checked
    said = [n for n in result.notes if "the data set Frames" in n]
    assert said and "(train.py:10)" in said[0] and "No such file or directory" in said[0], result.notes  # where the class is


def test_without_input_the_missing_folder_is_what_the_check_says(tmp_path, monkeypatch, library):
    (tmp_path / "work").mkdir()
    path = tmp_path / "work" / "train.py"
    path.write_text(TRAIN)
    monkeypatch.chdir(tmp_path / "work")
    result = check(str(path), "-", [])
    assert result.error is not None and "images" in result.error.message


def test_an_item_of_a_data_set_with_no_known_shapes_asks_for_the_batch(tmp_path, monkeypatch):
    """A torchvision data set whose items vaelint does not know (CocoCaptions), indexed by the step: what
    to give is said (--input), not only that the check has no value for it (helper h34e, iAbhyuday/Latent-Diffusion)."""
    import textwrap

    from helpers import check

    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.py").write_text(
        textwrap.dedent(
            """
            import torch
            import torch.nn as nn
            from torchvision import datasets, transforms


            class VAE(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.enc, self.dec = nn.Linear(3 * 32 * 32, 8), nn.Linear(4, 3 * 32 * 32)

                def forward(self, x):
                    mu, logvar = self.enc(x.flatten(1)).chunk(2, -1)
                    return self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)), mu, logvar


            data = datasets.CocoCaptions("coco/images", "coco/captions.json", transform=transforms.ToTensor())
            model = VAE()
            for i in range(3):
                img, caption = data[i]
                img = img.unsqueeze(0)
                recon, mu, logvar = model(img)
                (((recon - img.flatten(1)) ** 2).sum() - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())).backward()
            """
        )
    )
    said = check(str(tmp_path / "train.py"), "-", []).error.message
    assert "the step uses an item of the data set CocoCaptions" in said and "Give one batch with --input" in said, said
