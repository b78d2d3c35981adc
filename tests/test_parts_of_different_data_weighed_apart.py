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
