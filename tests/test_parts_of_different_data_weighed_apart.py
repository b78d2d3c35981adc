"""A reconstruction of two modalities, each its own likelihood (an image's and its tags'), with a weight on
one (``img_loss + 10 * tag_loss``): vaelint added the weights as if the parts were alternative likelihoods
of the same data and said "the reconstruction is multiplied by 11, beta_eff = 1/11" with a fix of
``11 * rec + 11 * kl`` (helper-found, a multi-modal music VAE). A weight on one slice of the data is no
weight on the others: the term weighs its largest part's weight. Every part weighed alike is still that
weight (beta_eff = 1/10), and alternative likelihoods of the same data still weigh the sum."""

from __future__ import annotations

import pytest
from json_cli import check_json

SCRIPT = """import torch
import torch.nn as nn
import torch.nn.functional as F


class TwoPartVAE(nn.Module):
    def __init__(self, z=8):
        super().__init__()
        self.enc = nn.Linear(256 + 20, 64)
        self.mu, self.lv = nn.Linear(64, z), nn.Linear(64, z)
        self.dec_img, self.dec_tag = nn.Linear(z, 256), nn.Linear(z, 20)

    def forward(self, img, tags):
        h = F.relu(self.enc(torch.cat([img, tags], 1)))
        mu, lv = self.mu(h), self.lv(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * lv)
        return torch.sigmoid(self.dec_img(z)), self.dec_tag(z), mu, lv


model = TwoPartVAE()
opt = torch.optim.Adam(model.parameters())
data = torch.utils.data.TensorDataset(torch.rand(64, 256), torch.rand(64, 20))
for img, tags in torch.utils.data.DataLoader(data, batch_size=8):
    r_img, r_tag, mu, lv = model(img, tags)
    img_loss = F.mse_loss(r_img, img, reduction="sum") * IMG_W
    tag_loss = F.mse_loss(r_tag, tags, reduction="sum") * TAG_W
    kl = -0.5 * torch.sum(1 + lv - mu.pow(2) - lv.exp())
    loss = img_loss + tag_loss + kl
    opt.zero_grad()
    loss.backward()
    opt.step()
"""


@pytest.mark.parametrize(("img_w", "tag_w", "beta"), [("1", "10", "1"), ("10", "10", "1/10")], ids=["one part weighed", "both alike"])
def test_a_weight_on_one_modality_is_no_weight_on_the_reconstruction(tmp_path, img_w, tag_w, beta):
    path = tmp_path / "train.py"
    path.write_text(SCRIPT.replace("IMG_W", img_w).replace("TAG_W", tag_w))
    r, result = check_json(str(path))
    assert str(result["beta_effective"]) == beta, (result["beta_effective"], r.output)
    assert "VAE004" not in [f["code"] for f in result["findings"]] or beta != "1", r.output


TRANSLATION = """import torch
import torch.nn as nn
import torch.nn.functional as F


class TranslationVAE(nn.Module):
    def __init__(self, d=784, z=8):
        super().__init__()
        self.enc = nn.Linear(d, 2 * z)
        self.dec_y, self.dec_x = nn.Linear(z, d), nn.Linear(z, d)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.dec_y(z), self.dec_x(z), mu, logvar


model = TranslationVAE()
opt = torch.optim.Adam(model.parameters(), 1e-3)
data = torch.utils.data.TensorDataset(torch.rand(64, 784), torch.rand(64, 784))
for x, y in torch.utils.data.DataLoader(data, batch_size=16):
    y_logits, x_logits, mu, logvar = model(x)
    rec_y = F.binary_cross_entropy_with_logits(y_logits, y, reduction="sum") / x.size(0)
    rec_x = F.binary_cross_entropy_with_logits(x_logits, x, reduction="sum") / x.size(0)
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / x.size(0)
    loss = rec_y + 0.1 * rec_x + kl
    opt.zero_grad()
    loss.backward()
    opt.step()
"""


def test_parts_of_different_data_of_one_size_are_told_apart_by_what_they_compare(tmp_path):
    # reviewer: a translation VAE's likelihood of its target y beside 0.1 times a reconstruction of its
    # input x, both 784 a sample: "multiplied by 1.1", a false VAE004 [confirmed]
    path = tmp_path / "train.py"
    path.write_text(TRANSLATION)
    r, result = check_json(str(path))
    assert r.exit_code == 0 and str(result["beta_effective"]) == "1", (result["beta_effective"], r.output)
