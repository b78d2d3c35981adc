"""An auxiliary classifier scored on the reconstruction (``head(xh)`` against ``one_hot(y)``) beside the
likelihood: both terms compare a reconstruction-derived output with data, so vaelint counted two
reconstruction terms, skipped VAE002 and VAE004, and exited 0 over a real mean-vs-sum mismatch
(helper-found, a Lightning conditional VAE). The likelihood is the comparison with the data the encoder
reads; labels the model never encodes are no reconstruction. A VAE that encodes and reconstructs both
is still two reconstruction terms, not read as one."""

from __future__ import annotations

from json_cli import check_json

SCRIPT = """import torch
import torch.nn as nn
import torch.nn.functional as F


class VAEWithHead(nn.Module):
    def __init__(self, d=784, z=8, k=10):
        super().__init__()
        self.enc = nn.Linear(ENC_IN, 2 * z)
        self.dec = nn.Linear(z, d)
        self.head = nn.Linear(d, k)

    def forward(self, x, y):
        mu, logvar = self.enc(ENC_ARG).chunk(2, dim=-1)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        xh = torch.sigmoid(self.dec(z))
        return xh, torch.sigmoid(self.head(xh)), mu, logvar


model = VAEWithHead()
opt = torch.optim.Adam(model.parameters(), 1e-3)
data = torch.utils.data.TensorDataset(torch.rand(64, 784), torch.randint(0, 10, (64,)))
for x, y in torch.utils.data.DataLoader(data, batch_size=16):
    xh, probs, mu, logvar = model(x, y)
    rec = REC
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1).mean()
    cls = F.binary_cross_entropy(probs, F.one_hot(y, 10).float())
    loss = rec + kl + cls
    opt.zero_grad()
    loss.backward()
    opt.step()
"""

_MEAN = "F.binary_cross_entropy(xh, x)"
_PER_SAMPLE = 'F.binary_cross_entropy(xh, x, reduction="sum") / x.size(0)'


def _script(tmp_path, rec, enc_in="d", enc_arg="x"):
    path = tmp_path / "train.py"
    path.write_text(SCRIPT.replace("REC", rec).replace("ENC_IN", enc_in).replace("ENC_ARG", enc_arg))
    return path


def _skipped(result) -> list[str]:
    return [s["code"] for s in result["skipped"]]


def test_a_mean_reduced_likelihood_beside_an_aux_classifier_is_VAE002(tmp_path):
    path = _script(tmp_path, _MEAN)
    r, result = check_json(str(path))
    assert r.exit_code == 1, r.output
    finding = next(f for f in result["findings"] if f["code"] == "VAE002")
    assert finding["line"] == next(i for i, t in enumerate(path.read_text().splitlines(), 1) if t.startswith("    kl = "))
    assert "784" in finding["message"], finding["message"]


def test_the_per_sample_likelihood_beside_an_aux_classifier_is_read_and_clean(tmp_path):
    path = _script(tmp_path, _PER_SAMPLE)
    r, result = check_json(str(path))
    assert r.exit_code == 0, r.output
    assert not {"VAE002", "VAE004"} & set(_skipped(result)), result["skipped"]


def test_labels_the_encoder_reads_are_a_second_reconstruction_not_chosen_between(tmp_path):
    path = _script(tmp_path, _MEAN, enc_in="d + k", enc_arg="torch.cat([x, F.one_hot(y, 10).float()], -1)")
    r, result = check_json(str(path))
    assert "VAE002" in _skipped(result), (result["skipped"], result["findings"])
