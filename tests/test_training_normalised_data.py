"""Images of a data set that stands in have the values its transform gives them: drawn as
ToTensor gives them, then through the transform's Normalize. They were drawn in [0, 1) whatever
the transform, so a binary cross-entropy against MNIST normalised to about [-0.42, 2.82] (the
real run's error: 'all elements of target should be between 0 and 1') passed as 'loss ok',
exit 0 (samuelkim7/pytorch-lightning-generative-models). Now the step fails as the real one does,
and the message says where the range comes from and what to write."""

from __future__ import annotations

import textwrap

from helpers import check, found

TRAIN = textwrap.dedent("""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms


    class VAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc, self.dec = nn.Linear(784, 40), nn.Linear(20, 784)

        def forward(self, x):
            mu, logvar = self.enc(x.view(x.size(0), -1)).chunk(2, dim=1)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            return torch.sigmoid(self.dec(z)), mu, logvar


    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    loader = DataLoader(datasets.MNIST("data", train=True, download=True, transform=tf), batch_size=64, shuffle=True)
    model = VAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for x, _ in loader:
        recon, mu, logvar = model(x)
        rec = F.binary_cross_entropy(recon, x.view(x.size(0), -1), reduction="sum")
        kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        loss = (rec + kld) / x.size(0)
        opt.zero_grad()
        loss.backward()
        opt.step()
""")


def _check(tmp_path, monkeypatch, text):
    path = tmp_path / "train.py"
    path.write_text(text)
    monkeypatch.chdir(tmp_path)
    return check(str(path), "-", [])


def test_a_bce_target_normalised_out_of_its_range_is_said_where_it_comes_from(tmp_path, monkeypatch):
    result = _check(tmp_path, monkeypatch, TRAIN)
    assert result.error is not None, "a step the real data makes fail is never 'no findings'"
    message = result.error.message
    assert "all elements of target should be between 0 and 1" in message and "train.py:26" in message
    assert "Normalize((0.1307,), (0.3081,))" in message and "values in [-0.42, 2." in message
    assert "F.mse_loss" in message


def test_a_gaussian_likelihood_on_the_same_normalised_images_is_checked(tmp_path, monkeypatch):
    mse = TRAIN.replace(
        'F.binary_cross_entropy(recon, x.view(x.size(0), -1), reduction="sum")', 'F.mse_loss(recon, x.view(x.size(0), -1), reduction="sum")'
    )
    result = _check(tmp_path, monkeypatch, mse)
    assert result.error is None, result.error.message
    # checked: and the decoder's sigmoid cannot reach the normalised images' [-0.42, 2.82] (VAE010)
    assert {code for code, _line in found(result)} == {"VAE010"}, [f.message for f in result.findings]
    assert "whose output lies in (0, 1)" in result.findings[0].message


def test_images_without_normalize_stay_in_their_range(tmp_path, monkeypatch):
    plain = TRAIN.replace(
        "transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])", "transforms.ToTensor()"
    )
    result = _check(tmp_path, monkeypatch, plain)
    assert result.error is None, result.error.message
    assert found(result) == set()


def test_the_hint_is_for_a_target_out_of_range_not_the_decoders_output():
    # torch says "of input" for the reconstruction (a tanh decoder: its activation is the fix, or the
    # normalised data handed first: swap the arguments) and "of target" for the images: only the
    # target's comes from the data set's Normalize for sure; the input's says both ways
    from vaelint.frontends.training.livehints import NORMALISED, range_hint

    NORMALISED[:] = ["Normalize((0.5,), (0.5,)), values in [-1.00, 1.00]"]
    try:
        assert "Normalize((0.5,), (0.5,))" in range_hint(RuntimeError("all elements of target should be between 0 and 1"))
        said = range_hint(RuntimeError("all elements of input should be between 0 and 1"))
        assert "swap them" in said and "end the decoder with a sigmoid" in said, said
        assert "Compare the reconstruction with the images before that Normalize" not in said, said
    finally:
        NORMALISED.clear()
    try:  # no Normalize in the run: the decoder's activation, no hint from the data
        assert range_hint(RuntimeError("all elements of input should be between 0 and 1")) == ""
    finally:
        NORMALISED.clear()


def test_a_normalize_given_by_position_is_applied_too(tmp_path, monkeypatch):
    positional = TRAIN.replace(
        'datasets.MNIST("data", train=True, download=True, transform=tf)', 'datasets.MNIST("data", True, tf, None, True)'
    )
    assert positional != TRAIN
    result = _check(tmp_path, monkeypatch, positional)
    assert result.error is not None and "Normalize((0.1307,), (0.3081,))" in result.error.message


def test_a_normalize_of_three_channels_on_one_channel_images_stops_as_the_real_run_does(tmp_path, monkeypatch):
    # torchvision's Normalize subtracts in place: MNIST's 1x28x28 against a mean of 3 raises on every
    # item. The stand-in broadcast it to 3x28x28, the shape no longer matched, the values were drawn
    # as they are, and the check passed: exit 0 on code that never reaches its step (helper C,
    # ritheshkumar95/pytorch-vqvae)
    rgb = TRAIN.replace("transforms.Normalize((0.1307,), (0.3081,))", "transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))")
    mse = rgb.replace(
        'F.binary_cross_entropy(recon, x.view(x.size(0), -1), reduction="sum")', 'F.mse_loss(recon, x.view(x.size(0), -1), reduction="sum")'
    )
    result = _check(tmp_path, monkeypatch, mse)
    assert result.error is not None, "a transform that raises on every item is never 'no findings'"
    message = result.error.message
    assert "Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))" in message and "1x28x28 images" in message
    assert "doesn't match the broadcast shape [3, 28, 28]" in message and "one mean and one std per channel: 1 here" in message
    # the near miss: one mean and std for the one channel (the test above) is checked


def test_a_split_of_the_normalised_data_set_keeps_its_values(tmp_path, monkeypatch):
    # random_split's Subset of the MNIST that stands in: its items were drawn in [0, 1) through the
    # split, so the BCE target the real run refuses passed, exit 0 (helper A,
    # samuelkim7/pytorch-lightning-generative-models' train/val split)
    split = TRAIN.replace(
        'loader = DataLoader(datasets.MNIST("data", train=True, download=True, transform=tf), batch_size=64, shuffle=True)',
        'full = datasets.MNIST("data", train=True, download=True, transform=tf)\n'
        "train_set, val_set = torch.utils.data.random_split(full, [55000, 5000])\n"
        "loader = DataLoader(train_set, batch_size=64, shuffle=True)",
    )
    assert split != TRAIN
    result = _check(tmp_path, monkeypatch, split)
    assert result.error is not None, "a split of the data set keeps the values its transform gives"
    assert "all elements of target should be between 0 and 1" in result.error.message
    assert "Normalize((0.1307,), (0.3081,))" in result.error.message
    # the near miss: the split with a Gaussian likelihood is checked
    result = _check(
        tmp_path,
        monkeypatch,
        split.replace(
            'F.binary_cross_entropy(recon, x.view(x.size(0), -1), reduction="sum")',
            'F.mse_loss(recon, x.view(x.size(0), -1), reduction="sum")',
        ),
    )
    assert result.error is None, result.error.message
